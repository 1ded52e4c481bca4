"""Names of the metric columns the study reads from a result row, in one place.

The analysis (``circuitvae.analyze``, columns ``circuitvae.metrics.analyze.METRIC_COLUMNS``)
writes one column per metric; the statistics and the report
refer to metrics only through :data:`METRICS`, so renaming a column is one edit here.
"""

from __future__ import annotations

#: logical metric name -> column name in a result row
METRICS: dict[str, str] = {
    "ces": "ces_calibrated",
    "ces_fixed": "ces_fixed",
    "specificity": "specificity",
    "modularity": "modularity",
    "modularity_semantic": "modularity",  # analyze(): "modularity" uses the semantic groups
    "modularity_random": "modularity_random",
    "fgd": "fgd",
    "mse": "mse",
    "auc": "auc",
    "dci": "dci_disentanglement",
    "mig": "mig",
    "sap": "sap",
}

#: metrics where a lower value is better (all others: higher is better)
LOWER_IS_BETTER: frozenset[str] = frozenset({"mse"})

#: prefix shared by every modularity variant column (all variants are reported)
MODULARITY_PREFIX = "modularity"

#: dataset -> domain; the tabular paper's dSprites runs are its image reference
DOMAIN: dict[str, str] = {
    "adult": "tabular",
    "bank_marketing": "tabular",
    "german_credit": "tabular",
    "credit_default": "tabular",
    "planted": "tabular",
    "dsprites": "image",
    "shapes3d": "image",
    "mpi3d": "image",
    "celeba": "image",
    "smallnorb": "image",
}

#: columns that identify a run (not metrics)
ID_COLUMNS: tuple[str, ...] = ("run_id", "study", "architecture", "dataset", "seed", "status")


def col(metric: str) -> str:
    """The column name of a logical metric (unknown names pass through unchanged)."""
    return METRICS.get(metric, metric)
