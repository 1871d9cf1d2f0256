"""Tests across datasets: Friedman, Nemenyi, Holm on mean ranks and Wilcoxon.

Each block of the matrix is one dataset, and the score of a sampler there is
its mean over the (repeat, fold) scores of that dataset.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

from benchmark._stat_tests import (
    _EFFECT_COLUMNS,
    _P_VALUE_COLUMNS,
    MIN_WILCOXON_BLOCKS,
    BlockMatrix,
    ComparisonResult,
    Float64Array,
    FriedmanResult,
    Row,
    _average_ranks,
    _check_alpha,
    _check_control,
    _compare_pairs,
    _comparison_frame,
    _count_blocks,
    _difference_summary,
    _pairs,
    _pairwise_result,
    _rank_rows,
    _rank_test_reason,
)

__all__ = ["friedman_test", "holm_control_test", "nemenyi_test", "wilcoxon_test"]


def _identical_rankings_p_value(first_block: Float64Array, n_blocks: int) -> float:
    """Return the exact p-value of N blocks that rank the samplers identically.

    Under the null hypothesis each block's ranking is uniform over the m =
    k! / prod(t!) distinct orders of its scores, where t runs over the sizes of
    the groups of tied scores. The Friedman statistic reaches its maximum only
    when every block has the first block's order, so p = m^-(N - 1).
    """
    _, counts = np.unique(first_block, return_counts=True)
    log_orders = math.lgamma(first_block.size + 1) - sum(
        math.lgamma(count + 1) for count in counts
    )
    return math.exp(-(n_blocks - 1) * log_orders)


def friedman_test(
    matrix: BlockMatrix, *, alpha: float = 0.05, control: str | None = None
) -> FriedmanResult:
    """Run the Friedman test and its Iman–Davenport F correction.

    The test ranks the samplers within each complete block and checks whether
    all samplers have the same expected rank. The chi-square statistic has the
    usual tie correction, so it equals ``scipy.stats.friedmanchisquare``. The
    Iman–Davenport statistic is F = (N - 1) chi2 / (N (k - 1) - chi2).

    When scores are missing, the test runs on the complete sub-matrix that
    :meth:`BlockMatrix.complete_submatrix` chooses, which drops either the
    incomplete blocks or the samplers with the most missing scores.

    Parameters
    ----------
    matrix : BlockMatrix
        Scores with one block per dataset.
    alpha : float, default 0.05
        Significance level of :attr:`FriedmanResult.rejected`.
    control : str or None, default None
        Sampler that is never dropped for missing scores. Pass the control of
        the post-hoc test so that both tests use the same sub-matrix.

    Returns
    -------
    FriedmanResult
        Not applicable with fewer than 3 samplers or 2 complete blocks, or
        when every block ties all samplers. When every block ranks the
        samplers identically, F is infinite and its p-value is the exact
        probability of identical rankings, (prod(t!) / k!)^(N - 1) for tie
        groups of sizes t.

    References
    ----------
    .. [1] J. Demšar (2006), Statistical comparisons of classifiers over
       multiple data sets, Journal of Machine Learning Research, 7, 1-30.
    """
    _check_alpha(alpha)
    values, dropped, dropped_samplers = matrix.complete_submatrix(control)
    n, k = values.shape
    common: Row = {
        "alpha": alpha,
        "n_blocks": n,
        "n_samplers": k,
        "average_ranks": _average_ranks(values, matrix.greater_is_better),
        "dropped": dropped,
        "dropped_samplers": dropped_samplers,
    }
    reason = _rank_test_reason(n, k, "Friedman")
    if reason:
        return FriedmanResult(applicable=False, reason=reason, **common)

    tie_sum = 0.0
    for row in values.to_numpy():
        _, counts = np.unique(row, return_counts=True)
        tie_sum += float((counts * (counts**2 - 1)).sum())
    tie_factor = 1.0 - tie_sum / (n * k * (k**2 - 1))
    if tie_factor <= 0:
        reason = "not applicable: all samplers tied in every block"
        return FriedmanResult(applicable=False, reason=reason, **common)

    rank_sums = _rank_rows(values, matrix.greater_is_better).to_numpy().sum(axis=0)
    chi2 = 12.0 / (n * k * (k + 1)) * float((rank_sums**2).sum()) - 3.0 * n * (k + 1)
    chi2 = max(chi2 / tie_factor, 0.0)

    # chi2 <= N (k - 1), with equality when every block ranks the samplers in
    # the same order. The F denominator is then zero and F is infinite, and the
    # F distribution gives no p-value there.
    df1, df2 = k - 1, (k - 1) * (n - 1)
    denominator = n * (k - 1) - chi2
    note = ""
    if denominator <= 1e-12 * n * (k - 1):
        f_statistic = float("inf")
        f_p_value = _identical_rankings_p_value(values.to_numpy()[0], n)
        note = (
            "every block ranks the samplers identically, so F is infinite; p is "
            "the exact probability of identical rankings under the null, "
            f"{f_p_value:.3g}"
        )
    else:
        f_statistic = (n - 1) * chi2 / denominator
        f_p_value = float(stats.f.sf(f_statistic, df1, df2))
    return FriedmanResult(
        applicable=True,
        reason="",
        statistic=chi2,
        df=k - 1,
        p_value=float(stats.chi2.sf(chi2, k - 1)),
        iman_davenport_statistic=float(f_statistic),
        iman_davenport_df=(df1, df2),
        iman_davenport_p_value=f_p_value,
        note=note,
        **common,
    )


def _rank_posthoc(
    matrix: BlockMatrix, alpha: float, control: str | None
) -> ComparisonResult:
    """Compare average ranks, of all pairs (Nemenyi) or against ``control``."""
    test = "Nemenyi" if control is None else "Holm (mean ranks vs control)"
    values, dropped, dropped_samplers = matrix.complete_submatrix(control)
    n, k = values.shape
    average_ranks = _average_ranks(values, matrix.greater_is_better)
    columns = ["rank_difference", *_P_VALUE_COLUMNS, *_EFFECT_COLUMNS]
    reason = _rank_test_reason(n, k, test)
    if reason:
        return ComparisonResult(
            test=test,
            applicable=False,
            reason=reason,
            alpha=alpha,
            comparisons=_comparison_frame([], columns, alpha, adjust=False),
            dropped=dropped,
            control=control,
            average_ranks=average_ranks,
            dropped_samplers=dropped_samplers,
        )

    standard_error = np.sqrt(k * (k + 1) / (6.0 * n))
    rows = []
    for first, second in _pairs(matrix, control, kept=list(values.columns)):
        rank_difference = float(average_ranks[first] - average_ranks[second])
        z = rank_difference / standard_error
        if control is None:
            statistic = abs(z) * np.sqrt(2.0)
            p_value = float(stats.studentized_range.sf(statistic, k, np.inf))
        else:
            statistic = z
            p_value = float(2.0 * stats.norm.sf(abs(z)))
        row: Row = {
            "sampler_a": first,
            "sampler_b": second,
            "n_blocks": n,
            "rank_difference": rank_difference,
            "statistic": float(statistic),
            "p_value": p_value,
            "p_adjusted": p_value,
        }
        row.update(
            _difference_summary(
                values[first].to_numpy(), values[second].to_numpy(), alpha
            )
        )
        rows.append(row)

    # The Nemenyi p-values come from the studentized range of all k average
    # ranks, so they already control the family-wise error rate.
    nemenyi = control is None
    comparisons = _comparison_frame(rows, columns, alpha, adjust=not nemenyi)
    q_alpha = critical_difference = None
    if nemenyi:
        q_alpha = float(stats.studentized_range.ppf(1 - alpha, k, np.inf) / np.sqrt(2))
        critical_difference = float(q_alpha * standard_error)
    return ComparisonResult(
        test=test,
        applicable=True,
        reason="",
        alpha=alpha,
        comparisons=comparisons,
        dropped=dropped,
        control=control,
        average_ranks=average_ranks,
        critical_difference=critical_difference,
        q_alpha=q_alpha,
        dropped_samplers=dropped_samplers,
    )


def nemenyi_test(matrix: BlockMatrix, *, alpha: float = 0.05) -> ComparisonResult:
    """Compare the average ranks of all pairs of samplers by the Nemenyi test.

    Two samplers differ when their average ranks differ by more than the
    critical difference CD = q_alpha sqrt(k (k + 1) / (6 N)). Here q_alpha is
    the 1 - alpha quantile of the studentized range for k means and infinite
    degrees of freedom, divided by sqrt(2). The p-value of a pair is the
    survival function of that distribution at sqrt(2) |R_a - R_b| / SE, as in
    ``scikit_posthocs.posthoc_nemenyi_friedman``. These p-values already
    control the family-wise error rate, so ``p_adjusted`` equals ``p_value``.

    Parameters
    ----------
    matrix : BlockMatrix
        Scores with one block per dataset.
    alpha : float, default 0.05
        Family-wise significance level.

    Returns
    -------
    ComparisonResult
        With ``critical_difference``, ``q_alpha`` and ``average_ranks`` set.
        Not applicable with fewer than 3 samplers or 2 complete blocks.

    References
    ----------
    .. [1] P. Nemenyi (1963), Distribution-free multiple comparisons, PhD
       thesis, Princeton University.
    .. [2] J. Demšar (2006), Statistical comparisons of classifiers over
       multiple data sets, Journal of Machine Learning Research, 7, 1-30.
    """
    _check_alpha(alpha)
    return _rank_posthoc(matrix, alpha, None)


def holm_control_test(
    matrix: BlockMatrix, control: str, *, alpha: float = 0.05
) -> ComparisonResult:
    """Compare each sampler's average rank with a control's, Holm-corrected.

    For each sampler, z = (R_i - R_control) / sqrt(k (k + 1) / (6 N)). The
    two-sided normal p-values are adjusted by Holm's method over the k - 1
    comparisons.

    Parameters
    ----------
    matrix : BlockMatrix
        Scores with one block per dataset.
    control : str
        Sampler compared with every other sampler.
    alpha : float, default 0.05
        Family-wise significance level.

    Returns
    -------
    ComparisonResult
        With ``statistic`` = z. Not applicable with fewer than 3 samplers or 2
        complete blocks.

    References
    ----------
    .. [1] J. Demšar (2006), Statistical comparisons of classifiers over
       multiple data sets, Journal of Machine Learning Research, 7, 1-30.
    .. [2] S. Holm (1979), A simple sequentially rejective multiple test
       procedure, Scandinavian Journal of Statistics, 6(2), 65-70.
    """
    _check_alpha(alpha)
    _check_control(matrix, control)
    return _rank_posthoc(matrix, alpha, control)


def wilcoxon_test(
    matrix: BlockMatrix, *, control: str | None = None, alpha: float = 0.05
) -> ComparisonResult:
    """Run Wilcoxon signed-rank tests on pairs of samplers, Holm-corrected.

    Each pair uses the blocks where both samplers have a score. Zero
    differences keep their ranks, split evenly between the two signs
    (``zero_method="zsplit"``). ``scipy.stats.wilcoxon`` then picks the exact
    null distribution, an exhaustive permutation test or the normal
    approximation, depending on the sample size, ties and zeros.

    A pair with fewer than 6 blocks is not tested, because with 5 pairs the
    exact two-sided p-value cannot fall below 0.0625. A pair whose
    differences are all zero gets statistic n (n + 1) / 4 and p = 1. Pairs
    without a p-value are left out of the Holm family.

    Parameters
    ----------
    matrix : BlockMatrix
        Scores with one block per dataset.
    control : str or None, default None
        When given, each sampler is compared with ``control`` only. Otherwise
        all pairs are compared.
    alpha : float, default 0.05
        Family-wise significance level.

    Returns
    -------
    ComparisonResult
        With ``statistic`` the smaller of the two signed-rank sums.

    References
    ----------
    .. [1] J. Demšar (2006), Statistical comparisons of classifiers over
       multiple data sets, Journal of Machine Learning Research, 7, 1-30.
    .. [2] A. Benavoli, G. Corani and F. Mangili (2016), Should we really use
       post-hoc tests based on mean-ranks?, Journal of Machine Learning
       Research, 17(5), 1-10.
    """
    _check_alpha(alpha)
    if control is not None:
        _check_control(matrix, control)

    def compare(a: Float64Array, b: Float64Array) -> Row:
        n = a.size
        if n < MIN_WILCOXON_BLOCKS:
            note = (
                f"not applicable: {_count_blocks(n)}, but the Wilcoxon signed-rank "
                f"test needs at least {MIN_WILCOXON_BLOCKS} to reach p < 0.05"
            )
            return {"note": note, **(_difference_summary(a, b, alpha) if n else {})}
        row = _difference_summary(a, b, alpha)
        if np.all(a == b):
            note = "all differences are zero, so p = 1"
            return {**row, "statistic": n * (n + 1) / 4, "p_value": 1.0, "note": note}
        result = stats.wilcoxon(a, b, zero_method="zsplit", alternative="two-sided")
        return {**row, "statistic": result.statistic, "p_value": result.pvalue}

    rows, dropped = _compare_pairs(matrix, _pairs(matrix, control), compare)
    columns = [*_P_VALUE_COLUMNS, *_EFFECT_COLUMNS]
    comparisons = _comparison_frame(rows, columns, alpha, adjust=True)
    test = "Wilcoxon signed-rank (Holm)"
    return _pairwise_result(test, comparisons, dropped, alpha, control)
