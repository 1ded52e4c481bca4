"""Findings: a paper's claim, a rule fixed in code, and the verdict the rule gives on our runs.

A study declares its findings as :class:`FindingRule` items; :func:`evaluate` applies each rule's
``check`` to the finished runs and returns one :class:`Finding` per rule. A check returns
``(ours, ok)``: the numbers to show and ``True`` / ``False`` / ``None`` (reproduced / not
reproduced / not computable). A check raises :class:`NotComputable` when its data is missing
(an absent metric column, too few runs); any other exception is also reported as not computable,
with its message, so a report always renders on partial results.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

REPRODUCED, NOT_REPRODUCED, NOT_COMPUTABLE = "reproduced", "not reproduced", "not computable"

#: ``check(rows, pairs) -> (ours, ok)``: ``rows`` are the ok runs (one per run), ``pairs`` the
#: pairwise table of :func:`circuitvae.stats.pairwise_table` over the report's metrics.
Check = Callable[[pd.DataFrame, pd.DataFrame], tuple[str, bool | None]]


class NotComputable(Exception):  # noqa: N818 - a verdict, not an error
    """Raised by a finding's check when its data is missing; the message says what is."""


@dataclass(frozen=True)
class FindingRule:
    """One finding a study judges: the claim, the paper's number, the rule in words, the
    check that applies it."""

    key: str
    claim: str
    paper: str
    rule: str
    check: Check


@dataclass(frozen=True)
class Finding:
    """One judged finding: the paper's claim, our number, and the verdict."""

    key: str
    study: str
    claim: str
    paper: str
    ours: str
    status: str
    rule: str


def verdict(ok: bool | None) -> str:
    """The verdict word of a check's ``ok``."""
    return NOT_COMPUTABLE if ok is None else (REPRODUCED if ok else NOT_REPRODUCED)


def evaluate(rules: Sequence[FindingRule], rows: pd.DataFrame, pairs: pd.DataFrame,
             study: str = "") -> list[Finding]:
    """Every rule's verdict on ``rows`` (ok runs only) and ``pairs``."""
    out = []
    for rule in rules:
        try:
            ours, ok = rule.check(rows, pairs)
            status = verdict(ok)
        except NotComputable as e:
            ours, status = f"not computable: {e}", NOT_COMPUTABLE
        except Exception as e:  # noqa: BLE001 - a report must render on partial results
            ours, status = f"not computable: {type(e).__name__}: {e}", NOT_COMPUTABLE
        out.append(Finding(rule.key, study, rule.claim, rule.paper, ours, status, rule.rule))
    return out


# --------------------------------------------------------------------------- helpers for checks

def require(rows: pd.DataFrame, *columns: str) -> None:
    """Raise :class:`NotComputable` unless every column exists with at least one value."""
    for c in columns:
        if c not in rows.columns or pd.to_numeric(rows[c], errors="coerce").notna().sum() == 0:
            raise NotComputable(f"no values for metric column {c!r}")


def fmt(x: float | None, digits: int = 3) -> str:
    """A number for a report cell (``nan`` for a missing or non-finite value)."""
    return "nan" if x is None or not np.isfinite(x) else f"{x:.{digits}g}"


def fmt_p(p: float) -> str:
    """A p-value for a report cell."""
    return "p=nan" if not np.isfinite(p) else ("p<.001" if p < 1e-3 else f"p={p:.3f}")
