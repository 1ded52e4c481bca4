"""Findings: a paper's claim, a rule fixed in code, and the verdict the rule gives on our runs.

A study declares its findings as :class:`FindingRule` items; :func:`evaluate` applies each rule's
``check`` to the finished runs and returns one :class:`Finding` per rule.

Verdicts (docs/study.md, "The report and its rules"; methods spec section 7):

* ``reproduced`` — the paper's direction is significant at alpha = .05 *and* the magnitude is
  consistent with the paper's number (the paper's value inside our 95% CI, or, for a fold
  change, within a factor 2 on the log scale); for a qualitative claim (no number) the magnitude
  check does not apply and the direction decides;
* ``direction only`` — the direction is significant, the magnitude is not consistent;
* ``not reproduced`` — the direction is not significant, or reversed;
* ``underpowered`` — fewer runs than the rule needs (:data:`MIN_CORRELATION_RUNS` for a
  correlation, :data:`MIN_GROUP_RUNS` per side for a group comparison, :data:`MIN_PAIRS` for a
  paired test); no other verdict is given below that, but the numbers are still shown;
* ``not computable`` — the data is missing.

A check returns an :class:`Outcome` (the numbers to show, the verdict, a short key number for
the sensitivity table and the runs it used); the older form ``(ours, ok)`` with ``ok`` True /
False / None (reproduced / not reproduced / not computable) is still accepted. A check raises
:class:`NotComputable` when its data is missing; any other exception is also reported as not
computable, with its message, so a report always renders on partial results.

:func:`sensitivity` recomputes each finding with each variant column a rule declares in place
of the default column (e.g. ``ces_calibrated_total`` for ``ces_calibrated``); the default
decides, the table shows how much the conclusion leans on the choice.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .. import stats

REPRODUCED = "reproduced"
DIRECTION_ONLY = "direction only"
NOT_REPRODUCED = "not reproduced"
UNDERPOWERED = "underpowered"
NOT_COMPUTABLE = "not computable"
#: the report's word when a study withholds verdicts for a profile (the rule is not applied)
WITHHELD = "withheld"
#: every verdict a check may give
VERDICTS = (REPRODUCED, DIRECTION_ONLY, NOT_REPRODUCED, UNDERPOWERED, NOT_COMPUTABLE)

#: significance level of every direction test [methods spec section 7]
ALPHA = 0.05
#: the fewest runs a correlation, each side of a group comparison, and a paired test need
#: [methods spec section 7]
MIN_CORRELATION_RUNS = 20
MIN_GROUP_RUNS = 6
MIN_PAIRS = 6


class NotComputable(Exception):  # noqa: N818 - a verdict, not an error
    """Raised by a finding's check when its data is missing; the message says what is."""


@dataclass(frozen=True)
class Outcome:
    """What a check found: the numbers shown (``ours``), the verdict (one of
    :data:`VERDICTS`), a short key number for the sensitivity table and the ``run_id`` of each
    run it used (None: all the rows it was given)."""

    ours: str
    verdict: str
    key_number: str = ""
    runs: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS:
            raise ValueError(f"unknown verdict {self.verdict!r}; choose one of {VERDICTS}")


#: ``check(rows, pairs) -> Outcome`` (or the older ``(ours, ok)``): ``rows`` are the ok runs
#: (one per run), ``pairs`` the pairwise table of :func:`circuitvae.stats.pairwise_table` over
#: the report's metrics (a check recomputes a family it needs that is not there).
Check = Callable[[pd.DataFrame, pd.DataFrame], Outcome | tuple[str, bool | str | None]]


@dataclass(frozen=True)
class FindingRule:
    """One finding a study judges: the claim, the paper's number, the rule in words, the
    check that applies it, and ``variants``: default column -> the variant columns the
    sensitivity table substitutes for it, one at a time."""

    key: str
    claim: str
    paper: str
    rule: str
    check: Check
    variants: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


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
    key_number: str = ""
    runs: tuple[str, ...] | None = None


@dataclass(frozen=True)
class SensitivityRow:
    """A finding recomputed with ``variant`` in place of its default ``column``
    (``variant == column``: the default itself)."""

    key: str
    claim: str
    column: str
    variant: str
    status: str
    key_number: str
    ours: str

    @property
    def is_default(self) -> bool:
        return self.variant == self.column


def verdict(ok: bool | None) -> str:
    """The verdict word of an older check's ``ok`` (True / False / None)."""
    return NOT_COMPUTABLE if ok is None else (REPRODUCED if ok else NOT_REPRODUCED)


def apply(rule: FindingRule, rows: pd.DataFrame, pairs: pd.DataFrame) -> Outcome:
    """``rule.check`` on ``rows`` and ``pairs`` as an :class:`Outcome`; a missing-data or any
    other exception, or a result of the wrong form, is a ``not computable`` outcome."""
    try:
        out = rule.check(rows, pairs)
        if isinstance(out, Outcome):
            return out
        ours, ok = out
        if isinstance(ok, str):
            return Outcome(str(ours), ok)
        if ok is not None and not isinstance(ok, (bool, np.bool_)):
            raise TypeError(f"check returned {type(ok).__name__} as its verdict")
        return Outcome(str(ours), verdict(None if ok is None else bool(ok)))
    except NotComputable as e:
        return Outcome(f"not computable: {e}", NOT_COMPUTABLE)
    except Exception as e:  # noqa: BLE001 - a report must render on partial results
        return Outcome(f"not computable: {type(e).__name__}: {e}", NOT_COMPUTABLE)


def evaluate(rules: Sequence[FindingRule], rows: pd.DataFrame, pairs: pd.DataFrame,
             study: str = "") -> list[Finding]:
    """Every rule's verdict on ``rows`` (ok runs only) and ``pairs``."""
    out = []
    for rule in rules:
        o = apply(rule, rows, pairs)
        out.append(Finding(rule.key, study, rule.claim, rule.paper, o.ours, o.verdict, rule.rule,
                           o.key_number, o.runs))
    return out


def substitute(rows: pd.DataFrame, pairs: pd.DataFrame, column: str, variant: str
               ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``rows`` with ``column`` replaced by the values of ``variant``, and ``pairs`` without
    ``column``'s family (a check recomputes it from the substituted rows)."""
    out = rows.copy()
    out[column] = pd.to_numeric(rows[variant], errors="coerce")
    if len(pairs) and "metric" in pairs.columns:
        pairs = pairs[pairs["metric"] != column]
    return out, pairs


def sensitivity(rules: Sequence[FindingRule], rows: pd.DataFrame, pairs: pd.DataFrame,
                found: Sequence[Finding] | None = None) -> list[SensitivityRow]:
    """Each rule with variants: its default (from ``found`` when given) and each variant
    column in place of its default column. An absent variant column is ``not computable``."""
    by_key = {f.key: f for f in found or ()}
    out = []
    for rule in rules:
        if not rule.variants:
            continue
        default = by_key.get(rule.key)
        if default is None:
            o = apply(rule, rows, pairs)
            default = Finding(rule.key, "", rule.claim, rule.paper, o.ours, o.verdict,
                              rule.rule, o.key_number, o.runs)
        for column, variants in rule.variants.items():
            out.append(SensitivityRow(rule.key, rule.claim, column, column, default.status,
                                      default.key_number, default.ours))
            for v in variants:
                if v not in rows.columns or pd.to_numeric(rows[v], errors="coerce").isna().all():
                    out.append(SensitivityRow(rule.key, rule.claim, column, v, NOT_COMPUTABLE,
                                              f"column `{v}` absent",
                                              f"not computable: no values for `{v}`"))
                    continue
                o = apply(rule, *substitute(rows, pairs, column, v))
                out.append(SensitivityRow(rule.key, rule.claim, column, v, o.verdict,
                                          o.key_number, o.ours))
    return out


# --------------------------------------------------------------------------- helpers for checks

def require(rows: pd.DataFrame, *columns: str) -> None:
    """Raise :class:`NotComputable` unless every column exists with at least one value."""
    for c in columns:
        if c not in rows.columns or pd.to_numeric(rows[c], errors="coerce").notna().sum() == 0:
            raise NotComputable(f"no values for metric column {c!r}")


def fmt(x: float | None, digits: int = 3) -> str:
    """A number for a report cell (``nan`` for a missing or non-finite value)."""
    if x is None or not np.isfinite(x):
        return "inf" if x is not None and np.isposinf(x) else "nan"
    return f"{x:.{digits}g}"


def fmt_p(p: float) -> str:
    """A p-value for a report cell."""
    return "p=nan" if not np.isfinite(p) else ("p<.001" if p < 1e-3 else f"p={p:.3f}")


def fmt_ci(low: float, high: float) -> str:
    """A 95% CI for a report cell."""
    return f"[{fmt(low)}, {fmt(high)}]"


def judge(*, enough: bool, direction: bool, magnitude: bool | None) -> str:
    """The verdict of a rule: ``underpowered`` unless ``enough`` runs; ``not reproduced``
    unless the paper's ``direction`` is significant; then ``reproduced`` when the ``magnitude``
    is consistent, or when it does not apply (None: a qualitative claim), else
    ``direction only``."""
    if not enough:
        return UNDERPOWERED
    if not direction:
        return NOT_REPRODUCED
    return REPRODUCED if magnitude is None or magnitude else DIRECTION_ONLY


def inside(value: float, low: float, high: float) -> bool:
    """Whether the paper's ``value`` lies inside our interval (False for a NaN interval)."""
    return bool(np.isfinite(low) and np.isfinite(high) and low <= value <= high)


def fold_consistent(ours: float, paper: float, factor: float = 2.0) -> bool:
    """Whether a fold change ``ours`` is within ``factor`` of ``paper`` on the log scale."""
    if not (np.isfinite(ours) and ours > 0 and paper > 0):
        return False
    return bool(abs(np.log(ours / paper)) <= np.log(factor))


def magnitude_text(paper: float, low: float, high: float) -> str:
    """'paper's X inside/outside our 95% CI [lo, hi]'."""
    where = "inside" if inside(paper, low, high) else "outside"
    return f"paper's {fmt(paper)} {where} our 95% CI {fmt_ci(low, high)}"


def numeric(rows: pd.DataFrame, column: str) -> pd.Series:
    """``rows[column]`` as floats (NaN where missing or not a number)."""
    return pd.to_numeric(rows[column], errors="coerce")


def run_ids(rows: pd.DataFrame) -> tuple[str, ...]:
    """The ``run_id`` of each row (the index when there is no ``run_id`` column)."""
    ids = rows["run_id"] if "run_id" in rows.columns else rows.index
    return tuple(str(i) for i in ids)


def underpowered_text(n: int, need: int, what: str) -> str:
    return f"; {n} {what} < {need} needed: underpowered" if n < need else ""


def correlation_outcome(rows: pd.DataFrame, x: str, y: str, *, sign: int,
                        paper: float | None = None, within: str = "dataset") -> Outcome:
    """The verdict of "r(x, y) has ``sign``" [methods spec section 7]: pooled and
    within-``within`` (each group's runs demeaned) Pearson r are both shown with Fisher-z 95%
    CIs; the within r decides: direction = its sign is ``sign`` and two-sided p < alpha;
    magnitude = the paper's r inside its CI (None: a qualitative claim); at least
    :data:`MIN_CORRELATION_RUNS` runs with both values."""
    require(rows, x, y)
    if within not in rows.columns:
        raise NotComputable(f"rows lack the {within!r} column")
    d = rows.assign(**{x: numeric(rows, x), y: numeric(rows, y)}).dropna(subset=[x, y, within])
    w = stats.within_correlation(d, x, y, within)
    p = stats.correlation(d, x, y)
    wl, wh = w.ci()
    pl, ph = p.ci()
    text = (f"within-{within} r={fmt(w.r)} {fmt_ci(wl, wh)}, {fmt_p(w.p)}; pooled r={fmt(p.r)} "
            f"{fmt_ci(pl, ph)}, {fmt_p(p.p)}; n={w.n} runs, {w.groups} {within}s")
    key = f"within r={fmt(w.r)} (pooled {fmt(p.r)})"
    if w.n < MIN_CORRELATION_RUNS:
        return Outcome(text + underpowered_text(w.n, MIN_CORRELATION_RUNS, "runs"), UNDERPOWERED,
                       key, run_ids(d))
    if not np.isfinite(w.r):
        raise NotComputable(f"within-{within} correlation of {x} and {y} undefined "
                            f"(n={w.n}, {w.groups} {within}s; constant within a {within}?)")
    direction = bool(np.sign(w.r) == sign and w.p < ALPHA)
    magnitude = None if paper is None else inside(paper, wl, wh)
    if paper is not None:
        text += f"; {magnitude_text(paper, wl, wh)}"
    return Outcome(text, judge(enough=True, direction=direction, magnitude=magnitude), key,
                   run_ids(d))


def group_outcome(rows: pd.DataFrame, metric: str, by: str, a: str, b: str, *,
                  alternative: str, paper_ratio: float | None,
                  magnitude: Callable[[stats.CI], tuple[bool, str]] | None = None) -> Outcome:
    """The verdict of "``metric`` differs between the runs with ``by == a`` and ``== b``":
    direction = one-sided Mann-Whitney U p < alpha (``alternative`` "less": a < b);
    magnitude = ``paper_ratio`` inside the 95% bootstrap CI of mean(a) / mean(b) (or
    ``magnitude(ci) -> (consistent, text)``); at least :data:`MIN_GROUP_RUNS` runs per side."""
    require(rows, metric)
    vals = numeric(rows, metric)
    xa = vals[rows[by] == a].dropna()
    xb = vals[rows[by] == b].dropna()
    if xa.empty or xb.empty:
        raise NotComputable(f"needs {metric} values for {by} {a} and {by} {b} "
                            f"(have {len(xa)} and {len(xb)})")
    t = stats.group_test(rows.assign(**{metric: vals}), metric, by, a, b,
                         alternative=alternative)
    ci = stats.ratio_ci(xa.to_numpy(float), xb.to_numpy(float))
    text = (f"{a} {fmt(t.mean_a)} (n={t.n_a}) vs {b} {fmt(t.mean_b)} (n={t.n_b}); ratio "
            f"{fmt(ci.estimate)} {fmt_ci(ci.low, ci.high)}; one-sided Mann-Whitney {fmt_p(t.p)}")
    key = f"ratio {fmt(ci.estimate)}"
    used = run_ids(rows.loc[xa.index.union(xb.index)])
    n = min(t.n_a, t.n_b)
    if n < MIN_GROUP_RUNS:
        return Outcome(text + underpowered_text(n, MIN_GROUP_RUNS, "runs on one side"),
                       UNDERPOWERED, key, used)
    direction = bool(np.isfinite(t.p) and t.p < ALPHA)
    if magnitude is not None:
        consistent, mtext = magnitude(ci)
    elif paper_ratio is not None:
        consistent, mtext = (inside(paper_ratio, ci.low, ci.high),
                             magnitude_text(paper_ratio, ci.low, ci.high))
    else:
        consistent, mtext = None, "magnitude: qualitative claim, not checked"
    return Outcome(f"{text}; {mtext}",
                   judge(enough=True, direction=direction, magnitude=consistent), key, used)


def paired_outcome(rows: pd.DataFrame, a: str, b: str, *, alternative: str,
                   paper_ratio: float | None) -> Outcome:
    """The verdict of "column ``a`` differs from column ``b`` on the same runs": direction =
    one-sided Wilcoxon signed-rank p < alpha (``alternative`` "greater": a > b); magnitude =
    ``paper_ratio`` inside the 95% paired-bootstrap CI of mean(a) / mean(b); at least
    :data:`MIN_PAIRS` runs with both values."""
    require(rows, a, b)
    d = rows.assign(**{a: numeric(rows, a), b: numeric(rows, b)}).dropna(subset=[a, b])
    t = stats.paired_test(d, a, b, alternative=alternative)
    ci = stats.ratio_ci(d[a].to_numpy(float), d[b].to_numpy(float), paired=True)
    text = (f"{a} {fmt(t.mean_a)} vs {b} {fmt(t.mean_b)} (n={t.n} runs); ratio "
            f"{fmt(ci.estimate)} {fmt_ci(ci.low, ci.high)}; one-sided Wilcoxon {fmt_p(t.p)}")
    key = f"ratio {fmt(ci.estimate)}"
    if t.n < MIN_PAIRS:
        return Outcome(text + underpowered_text(t.n, MIN_PAIRS, "pairs"), UNDERPOWERED, key,
                       run_ids(d))
    direction = bool(np.isfinite(t.p) and t.p < ALPHA)
    consistent = None if paper_ratio is None else inside(paper_ratio, ci.low, ci.high)
    if paper_ratio is not None:
        text += f"; {magnitude_text(paper_ratio, ci.low, ci.high)}"
    return Outcome(text, judge(enough=True, direction=direction, magnitude=consistent), key,
                   run_ids(d))


def pairwise_family(rows: pd.DataFrame, pairs: pd.DataFrame, metric: str,
                    **kwargs: object) -> pd.DataFrame | None:
    """The pairwise comparisons of ``metric`` (its Holm-Sidak family): from ``pairs`` when
    they are there, else computed from ``rows`` (None when ``metric`` has no values)."""
    if len(pairs) and "metric" in pairs.columns and metric in set(pairs["metric"]):
        return pairs[pairs["metric"] == metric]
    if metric not in rows.columns or numeric(rows, metric).isna().all():
        return None
    return stats.pairwise_wilcoxon(rows.assign(**{metric: numeric(rows, metric)}), metric,
                                   **kwargs)
