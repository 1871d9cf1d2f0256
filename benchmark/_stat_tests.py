"""Score matrix, result types and shared helpers of the significance tests.

A :class:`BlockMatrix` has one row per block and one column per sampler. Blocks
are datasets for the tests across datasets, and (repeat, fold) pairs of one
dataset for the tests within a dataset. :mod:`benchmark.statistics` builds the
matrices from a scores table and re-exports every public name defined here,
in :mod:`benchmark._stat_across` and in :mod:`benchmark._stat_within`.

Every test uses only the blocks in which all the samplers it compares have a
score, and lists the blocks it dropped. A test or comparison that cannot run
is marked not applicable with the reason, and its numbers are left empty.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from scipy import stats

__all__ = [
    "BlockMatrix",
    "ComparisonResult",
    "FriedmanResult",
    "cliffs_delta",
    "holm_adjust",
]

MIN_FRIEDMAN_SAMPLERS = 3
MIN_FRIEDMAN_BLOCKS = 2
# With n pairs and no ties, the smallest two-sided exact p-value of the Wilcoxon
# signed-rank test is 2 / 2**n: 0.0625 for n = 5 and 0.03125 for n = 6.
MIN_WILCOXON_BLOCKS = 6

_PAIR_COLUMNS = ["sampler_a", "sampler_b", "n_blocks"]
_P_VALUE_COLUMNS = ["statistic", "p_value", "p_adjusted", "reject"]
_EFFECT_COLUMNS = ["mean_difference", "ci_low", "ci_high", "cliffs_delta"]
_T_TEST_COLUMNS = ["df", *_P_VALUE_COLUMNS, *_EFFECT_COLUMNS]
_BAYES_COLUMNS = ["mean_difference", "scale", "df", "p_better", "p_equivalent"]
_BAYES_COLUMNS += ["p_worse", "cliffs_delta"]
# Columns of the comparisons tables of the two tests within one dataset.
CORRECTED_T_COLUMNS = [*_PAIR_COLUMNS, *_T_TEST_COLUMNS, "note"]
BAYESIAN_COLUMNS = [*_PAIR_COLUMNS, *_BAYES_COLUMNS, "note"]

Row = dict[str, Any]
Float64Array = NDArray[np.float64]


def _no_dropped_samplers() -> pd.DataFrame:
    return pd.DataFrame(columns=["sampler", "reason"], dtype=object)


@dataclass(frozen=True, eq=False)
class BlockMatrix:
    """Scores of several samplers on shared blocks.

    Attributes
    ----------
    values : pandas.DataFrame
        One row per block and one column per sampler. NaN marks a missing
        score. The index names (for example ``dataset``, or ``repeat`` and
        ``fold``) become the block columns of the ``dropped`` tables.
    greater_is_better : bool
        Whether a higher score is better. Ranks, ``p_better`` and ``p_worse``
        follow it. Differences and Cliff's delta are always sampler a minus
        sampler b in metric units.
    missing_reasons : pandas.DataFrame or None
        Reason for each missing score, aligned with ``values``. A missing score
        without a reason is reported as ``"score missing"``.
    test_train_ratio : float or None
        Ratio n_test / n_train of the resampling that produced the blocks.
        Only the tests within one dataset use it.
    """

    values: pd.DataFrame
    greater_is_better: bool = True
    missing_reasons: pd.DataFrame | None = None
    test_train_ratio: float | None = None

    def __post_init__(self) -> None:
        columns = self.values.columns
        if not self.values.index.is_unique:
            repeated = sorted(
                {str(b) for b in self.values.index[self.values.index.duplicated()]}
            )
            raise ValueError(
                f"block labels must be unique, but these repeat: {repeated}"
            )
        if not columns.is_unique:
            repeated = sorted({str(c) for c in columns[columns.duplicated()]})
            raise ValueError(
                f"sampler columns must be unique, but these repeat: {repeated}"
            )
        try:
            numeric = self.values.astype(np.float64)
        except (TypeError, ValueError) as error:
            raise ValueError(f"scores must be numeric: {error}") from error
        if np.isinf(numeric.to_numpy()).any():
            raise ValueError("scores must be finite. Use NaN for a missing score.")
        numeric.columns = [str(column) for column in columns]
        object.__setattr__(self, "values", numeric)
        if self.missing_reasons is not None:
            reasons = self.missing_reasons.copy()
            reasons.columns = [str(column) for column in reasons.columns]
            object.__setattr__(self, "missing_reasons", reasons)
        ratio = self.test_train_ratio
        if ratio is not None and not (np.isfinite(ratio) and ratio > 0):
            raise ValueError(f"test_train_ratio must be positive, got {ratio}.")

    @property
    def samplers(self) -> tuple[str, ...]:
        """Sampler names in column order."""
        return tuple(self.values.columns)

    @property
    def block_columns(self) -> list[str]:
        """Names of the index levels, with ``block`` for an unnamed level."""
        names = self.values.index.names
        return [str(name) if name is not None else "block" for name in names]

    def complete_blocks(
        self, samplers: Sequence[str] | None = None
    ) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Split the blocks by whether every one of ``samplers`` has a score.

        Returns the complete rows restricted to ``samplers`` (all by default),
        and a table of the other blocks with one ``reason`` per block.
        """
        subset = self.values[list(self.samplers if samplers is None else samplers)]
        present = subset.notna().all(axis=1)
        reasons = []
        for label in subset.index[~present]:
            row = subset.loc[label]
            missing = row.index[row.isna()]
            reasons.append(
                "; ".join(f"{s}: {self._missing_reason(label, s)}" for s in missing)
            )
        dropped = subset.index[~present].to_frame(index=False)
        dropped.columns = self.block_columns
        dropped["reason"] = reasons
        return subset[present], dropped

    def complete_submatrix(
        self, keep: str | None = None
    ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
        """Choose the complete sub-matrix with the most scores for the rank tests.

        Two candidates are compared. One keeps every sampler and drops each
        block with a missing score. The other drops lines greedily: while a
        score is missing, it drops the block or sampler with the most missing
        scores. A tie goes to the line with fewer scores in all, so one
        failing sampler is dropped before the only dataset. A remaining tie
        goes to a block before a sampler, then to the first name in order. The sampler
        ``keep`` is never dropped. The candidate with more scores wins, and on
        a tie the first one, which keeps every sampler.

        Returns the kept scores, the dropped blocks with a ``reason`` each, and
        the dropped samplers as ``sampler`` and ``reason`` columns.
        """
        by_block, dropped_blocks = self.complete_blocks()
        greedy_samplers = self._greedy_samplers(keep)
        greedy, greedy_blocks = self.complete_blocks(greedy_samplers)
        if greedy.size > by_block.size:
            values, dropped_blocks = greedy, greedy_blocks
        else:
            values, greedy_samplers = by_block, list(self.samplers)
        left_out = [s for s in self.samplers if s not in greedy_samplers]
        reasons = []
        for sampler in left_out:
            missing = self.values.index[self.values[sampler].isna()]
            reasons.append(
                "; ".join(
                    f"{label}: {self._missing_reason(label, sampler)}"
                    for label in missing
                )
            )
        dropped_samplers = pd.DataFrame(
            {"sampler": left_out, "reason": reasons}, dtype=object
        )
        return values, dropped_blocks, dropped_samplers

    def _greedy_samplers(self, keep: str | None) -> list[str]:
        """Return the samplers left after greedily dropping the most missing lines."""
        missing = self.values.isna()
        while missing.to_numpy().any():
            n_blocks, n_samplers = missing.shape
            candidates = [
                (-int(n), n_samplers, 0, str(label), "block", label)
                for label, n in missing.sum(axis=1).items()
            ]
            candidates += [
                (-int(n), n_blocks, 1, str(sampler), "sampler", sampler)
                for sampler, n in missing.sum(axis=0).items()
                if sampler != keep
            ]
            *_, kind, label = min(candidates, key=lambda c: c[:4])
            if kind == "block":
                missing = missing.drop(index=[label])
            else:
                missing = missing.drop(columns=[label])
        return list(missing.columns)

    def ranks(self, keep: str | None = None) -> pd.DataFrame:
        """Rank the samplers within each block of :meth:`complete_submatrix`.

        Rank 1 is the best score and tied samplers share the average rank.
        """
        complete, _, _ = self.complete_submatrix(keep)
        return _rank_rows(complete, self.greater_is_better)

    def _missing_reason(self, label: Any, sampler: str) -> str:
        if self.missing_reasons is not None:
            reason = self.missing_reasons.at[label, sampler]
            if isinstance(reason, str) and reason:
                return reason
        return "score missing"


@dataclass(frozen=True, eq=False)
class FriedmanResult:
    """Friedman test with the Iman–Davenport correction.

    Attributes
    ----------
    applicable : bool
        False when the test cannot run. ``reason`` then gives the cause, and the
        statistics are None.
    reason : str
        Why the test is not applicable, or empty.
    alpha : float
        Significance level of :attr:`rejected`.
    n_blocks, n_samplers : int
        Number of complete blocks N and of samplers k.
    average_ranks : pandas.Series
        Average rank per sampler on the complete blocks, 1 = best, sorted.
    dropped : pandas.DataFrame
        Blocks left out because a sampler has no score there, with reasons.
    statistic, df, p_value : float, int, float or None
        Tie-corrected Friedman chi-square with k - 1 degrees of freedom.
    iman_davenport_statistic, iman_davenport_df, iman_davenport_p_value
        F statistic with (k - 1, (k - 1)(N - 1)) degrees of freedom.
    note : str
        Remark on a boundary case, such as an infinite F statistic.
    dropped_samplers : pandas.DataFrame
        Samplers left out by :meth:`BlockMatrix.complete_submatrix`, with
        ``sampler`` and ``reason`` columns.
    """

    applicable: bool
    reason: str
    alpha: float
    n_blocks: int
    n_samplers: int
    average_ranks: pd.Series
    dropped: pd.DataFrame
    statistic: float | None = None
    df: int | None = None
    p_value: float | None = None
    iman_davenport_statistic: float | None = None
    iman_davenport_df: tuple[int, int] | None = None
    iman_davenport_p_value: float | None = None
    note: str = ""
    dropped_samplers: pd.DataFrame = field(default_factory=_no_dropped_samplers)

    @property
    def rejected(self) -> bool | None:
        """Whether the Iman–Davenport p-value is below alpha (None if not run)."""
        if self.iman_davenport_p_value is None:
            return None
        return self.iman_davenport_p_value < self.alpha

    def to_frame(self) -> pd.DataFrame:
        """Return one row per test with statistic, df, p-value and decision."""
        f_df = self.iman_davenport_df
        frame = pd.DataFrame(
            {
                "test": ["Friedman", "Iman-Davenport"],
                "n_blocks": self.n_blocks,
                "n_samplers": self.n_samplers,
                "statistic": [self.statistic, self.iman_davenport_statistic],
                "df": [
                    "" if self.df is None else str(self.df),
                    "" if f_df is None else f"{f_df[0]}, {f_df[1]}",
                ],
                "p_value": [self.p_value, self.iman_davenport_p_value],
            }
        )
        frame[["statistic", "p_value"]] = frame[["statistic", "p_value"]].astype(
            np.float64
        )
        reject = [None if np.isnan(p) else p < self.alpha for p in frame["p_value"]]
        frame["reject"] = pd.array(reject, dtype="boolean")
        frame["note"] = self.note if self.applicable else self.reason
        return frame


@dataclass(frozen=True, eq=False)
class ComparisonResult:
    """Pairwise comparisons of samplers, with effect sizes.

    Attributes
    ----------
    test : str
        Name of the test, for example ``"Nemenyi"``.
    applicable : bool
        False when no comparison could be made. ``reason`` then gives the cause.
    reason : str
        Why the test is not applicable, or which comparisons were excluded.
    alpha : float or None
        Significance level of the ``reject`` column, None for the Bayesian test.
    comparisons : pandas.DataFrame
        One row per pair: ``sampler_a``, ``sampler_b``, ``n_blocks``,
        ``statistic``, ``p_value``, ``p_adjusted``, ``reject``,
        ``mean_difference`` (of a - b), ``ci_low``, ``ci_high``,
        ``cliffs_delta`` and ``note``. The rank tests add ``rank_difference``
        and the corrected t-test adds ``df``. The Bayesian test has
        ``mean_difference``, ``scale``, ``df``, ``p_better``,
        ``p_equivalent``, ``p_worse`` and ``cliffs_delta`` instead. A
        comparison that could not be made has empty numbers and its reason in
        ``note``.
    dropped : pandas.DataFrame
        Blocks left out, with the samplers compared and the reason.
    control : str or None
        Sampler that every other sampler is compared with, if any.
    average_ranks : pandas.Series or None
        Average ranks on the complete blocks, for the rank tests.
    critical_difference, q_alpha : float or None
        Nemenyi critical difference of average ranks and its q_alpha.
    dropped_samplers : pandas.DataFrame
        Samplers left out of the rank tests, with ``sampler`` and ``reason``.
        Empty for the other tests.
    """

    test: str
    applicable: bool
    reason: str
    alpha: float | None
    comparisons: pd.DataFrame
    dropped: pd.DataFrame
    control: str | None = None
    average_ranks: pd.Series | None = None
    critical_difference: float | None = None
    q_alpha: float | None = None
    dropped_samplers: pd.DataFrame = field(default_factory=_no_dropped_samplers)


def holm_adjust(p_values: ArrayLike) -> Float64Array:
    """Adjust p-values with Holm's step-down method.

    NaN entries are left out of the family, so they do not count towards the
    number of tests m, and they stay NaN in the output.

    Parameters
    ----------
    p_values : array_like of float
        Unadjusted p-values in [0, 1], or NaN.

    Returns
    -------
    numpy.ndarray
        Adjusted p-values in input order. The i-th smallest of m p-values
        becomes max over j <= i of min(1, (m - j + 1) p_(j)).

    Raises
    ------
    ValueError
        If a p-value is outside [0, 1].

    References
    ----------
    .. [1] S. Holm (1979), A simple sequentially rejective multiple test
       procedure, Scandinavian Journal of Statistics, 6(2), 65-70.
    """
    p = np.asarray(p_values, dtype=np.float64).reshape(-1)
    defined = ~np.isnan(p)
    family = p[defined]
    if ((family < 0) | (family > 1)).any():
        raise ValueError(f"p-values must lie in [0, 1], got {family.tolist()}.")
    m = family.size
    order = np.argsort(family, kind="stable")
    scaled = (m - np.arange(m)) * family[order]
    adjusted = np.empty(m)
    adjusted[order] = np.minimum(1.0, np.maximum.accumulate(scaled))
    result = np.full(p.shape, np.nan)
    result[defined] = adjusted
    return result


def cliffs_delta(x: ArrayLike, y: ArrayLike) -> float:
    """Compute Cliff's delta of sample ``x`` against sample ``y``.

    Parameters
    ----------
    x, y : array_like of float
        Two non-empty samples without NaN. Pairing is ignored.

    Returns
    -------
    float
        P(X > Y) - P(X < Y) over all pairs, in [-1, 1]. Positive values mean
        that ``x`` tends to be larger.

    References
    ----------
    .. [1] N. Cliff (1993), Dominance statistics: ordinal analyses to answer
       ordinal questions, Psychological Bulletin, 114(3), 494-509.
    """
    a = np.asarray(x, dtype=np.float64).reshape(-1)
    b = np.asarray(y, dtype=np.float64).reshape(-1)
    if a.size == 0 or b.size == 0:
        raise ValueError("Cliff's delta needs two non-empty samples.")
    if np.isnan(a).any() or np.isnan(b).any():
        raise ValueError("Cliff's delta is undefined for samples with NaN.")
    return float(np.sign(a[:, None] - b[None, :]).mean())


def _rank_rows(values: pd.DataFrame, greater_is_better: bool) -> pd.DataFrame:
    """Rank the samplers within each row: 1 = best, ties get the average rank."""
    scores = values.to_numpy(dtype=np.float64)
    ranks = stats.rankdata(-scores if greater_is_better else scores, axis=1)
    return pd.DataFrame(ranks, index=values.index, columns=values.columns)


def _average_ranks(values: pd.DataFrame, greater_is_better: bool) -> pd.Series:
    if values.empty:
        return pd.Series(dtype=np.float64, name="average_rank")
    ranks = _rank_rows(values, greater_is_better).mean(axis=0)
    return ranks.sort_values(kind="stable").rename("average_rank")


def _count_blocks(n: int) -> str:
    return f"{n} complete block" if n == 1 else f"{n} complete blocks"


def _check_alpha(alpha: float) -> None:
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must lie strictly between 0 and 1, got {alpha}.")


def _check_control(matrix: BlockMatrix, control: str) -> None:
    if control not in matrix.samplers:
        raise ValueError(
            f"control sampler {control!r} is not among the samplers "
            f"{list(matrix.samplers)}."
        )


def _rank_test_reason(n_blocks: int, n_samplers: int, test: str) -> str:
    """Return why a mean-rank test cannot run, or an empty string."""
    if n_samplers < MIN_FRIEDMAN_SAMPLERS:
        return (
            f"not applicable: the {test} test needs at least "
            f"{MIN_FRIEDMAN_SAMPLERS} samplers, got {n_samplers}"
        )
    if n_blocks < MIN_FRIEDMAN_BLOCKS:
        return (
            f"not applicable: the {test} test needs at least "
            f"{MIN_FRIEDMAN_BLOCKS} complete blocks, got {n_blocks}"
        )
    return ""


def _difference_summary(
    a: Float64Array, b: Float64Array, alpha: float, extra_variance: float = 0.0
) -> Row:
    """Return mean(a - b), its 1 - alpha interval and Cliff's delta of a vs b.

    The standard error is sqrt((1/n + extra_variance) var(a - b)), so
    ``extra_variance = n_test / n_train`` gives the corrected interval of
    Nadeau and Bengio, and 0 gives the ordinary t interval.
    """
    difference = a - b
    n = difference.size
    mean = float(difference.mean())
    summary: Row = {"mean_difference": mean, "cliffs_delta": cliffs_delta(a, b)}
    if n >= 2:
        scale = np.sqrt((1.0 / n + extra_variance) * difference.var(ddof=1))
        half_width = float(stats.t.ppf(1 - alpha / 2, n - 1) * scale)
        summary.update(ci_low=mean - half_width, ci_high=mean + half_width)
    return summary


def _comparison_frame(
    rows: list[Row], columns: list[str], alpha: float | None, adjust: bool
) -> pd.DataFrame:
    """Build a comparisons table and Holm-adjust its defined p-values."""
    frame = pd.DataFrame(rows, columns=[*_PAIR_COLUMNS, *columns, "note"])
    for column in columns:
        if column == "df":
            frame[column] = frame[column].astype("Int64")
        elif column != "reject":
            frame[column] = frame[column].astype(np.float64)
    frame["n_blocks"] = frame["n_blocks"].astype(np.int64)
    notes = frame["note"].astype(object)
    frame["note"] = notes.where(notes.notna(), "").astype(str)
    if "p_value" in columns:
        if adjust:
            frame["p_adjusted"] = holm_adjust(frame["p_value"].to_numpy())
        reject = [None if np.isnan(p) else p < alpha for p in frame["p_adjusted"]]
        frame["reject"] = pd.array(reject, dtype="boolean")
    return frame


def _pairs(
    matrix: BlockMatrix, control: str | None, kept: Sequence[str] | None = None
) -> list[tuple[str, str]]:
    samplers = matrix.samplers if kept is None else tuple(kept)
    if control is None:
        return list(itertools.combinations(samplers, 2))
    return [(sampler, control) for sampler in samplers if sampler != control]


def _compare_pairs(
    matrix: BlockMatrix,
    pairs: list[tuple[str, str]],
    compare: Callable[[Float64Array, Float64Array], Row],
) -> tuple[list[Row], pd.DataFrame]:
    """Apply ``compare`` to the complete blocks of each pair.

    Returns one row per pair and the blocks dropped for each pair.
    """
    rows = []
    dropped_frames = []
    for first, second in pairs:
        values, dropped = matrix.complete_blocks([first, second])
        dropped.insert(0, "sampler_b", second)
        dropped.insert(0, "sampler_a", first)
        if not dropped.empty:
            dropped_frames.append(dropped)
        a = values[first].to_numpy()
        b = values[second].to_numpy()
        row: Row = {"sampler_a": first, "sampler_b": second, "n_blocks": a.size}
        row.update(compare(a, b))
        rows.append(row)
    columns = ["sampler_a", "sampler_b", *matrix.block_columns, "reason"]
    if not dropped_frames:
        return rows, pd.DataFrame(columns=columns)
    return rows, pd.concat(dropped_frames, ignore_index=True)[columns]


def _pairwise_result(
    test: str,
    comparisons: pd.DataFrame,
    dropped: pd.DataFrame,
    alpha: float | None,
    control: str | None,
    key: str = "p_value",
) -> ComparisonResult:
    """Wrap a comparisons table, stating which comparisons could not be made."""
    undefined = comparisons[comparisons[key].isna()]
    listed = ", ".join(
        f"{a} vs {b}"
        for a, b in undefined[["sampler_a", "sampler_b"]].itertuples(index=False)
    )
    applicable = len(undefined) < len(comparisons)
    if comparisons.empty:
        reason = "not applicable: fewer than 2 samplers"
    elif not applicable:
        reason = f"not applicable: no comparison could be made ({listed})"
    elif listed and key == "p_value":
        reason = f"excluded from the Holm family: {listed}"
    else:
        reason = f"not compared: {listed}" if listed else ""
    return ComparisonResult(
        test=test,
        applicable=applicable,
        reason=reason,
        alpha=alpha,
        comparisons=comparisons,
        dropped=dropped,
        control=control,
    )
