"""Tests within one dataset: corrected repeated CV t-test and Bayesian t-test.

Each block of the matrix is one (repeat, fold) of a dataset. Training sets of
different folds overlap, so both tests widen the variance of the paired
differences by n_test / n_train.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from benchmark._stat_tests import (
    _BAYES_COLUMNS,
    _T_TEST_COLUMNS,
    BlockMatrix,
    ComparisonResult,
    Float64Array,
    Row,
    _check_alpha,
    _check_control,
    _compare_pairs,
    _comparison_frame,
    _count_blocks,
    _difference_summary,
    _pairs,
    _pairwise_result,
    cliffs_delta,
)

__all__ = ["bayesian_correlated_t_test", "corrected_t_test"]


def _resolve_ratio(matrix: BlockMatrix, test_train_ratio: float | None) -> float:
    ratio = matrix.test_train_ratio if test_train_ratio is None else test_train_ratio
    if ratio is None:
        raise ValueError(
            "test_train_ratio is unknown. Pass n_test / n_train, for example "
            "1 / (k - 1) for k-fold cross-validation."
        )
    if not (np.isfinite(ratio) and ratio > 0):
        raise ValueError(f"test_train_ratio must be positive, got {ratio}.")
    return float(ratio)


def corrected_t_test(
    matrix: BlockMatrix,
    control: str,
    *,
    alpha: float = 0.05,
    test_train_ratio: float | None = None,
) -> ComparisonResult:
    """Compare each sampler with a control by the corrected repeated CV t-test.

    For the n = k r paired differences d from r repeats of k-fold
    cross-validation, t = mean(d) / sqrt((1 / n + n_test / n_train) var(d))
    with n - 1 degrees of freedom and var computed with ddof = 1. The
    n_test / n_train term widens the variance because the training sets
    overlap. The two-sided p-values are adjusted by Holm's method over the
    samplers, and the interval of ``mean_difference`` uses the same standard
    error.

    A comparison with fewer than 2 complete blocks is not tested. When var(d)
    is 0, p = 1 if every difference is zero. Otherwise t is infinite and p = 0.

    Parameters
    ----------
    matrix : BlockMatrix
        Scores of one dataset, with one block per (repeat, fold).
    control : str
        Sampler compared with every other sampler.
    alpha : float, default 0.05
        Family-wise significance level.
    test_train_ratio : float or None
        n_test / n_train. Defaults to ``matrix.test_train_ratio``.

    Returns
    -------
    ComparisonResult
        With a ``df`` column.

    References
    ----------
    .. [1] C. Nadeau and Y. Bengio (2003), Inference for the generalization
       error, Machine Learning, 52(3), 239-281.
    .. [2] R. R. Bouckaert and E. Frank (2004), Evaluating the replicability
       of significance tests for comparing learning algorithms, Advances in
       Knowledge Discovery and Data Mining (PAKDD 2004), LNCS 3056, 3-12.
    """
    _check_alpha(alpha)
    _check_control(matrix, control)
    ratio = _resolve_ratio(matrix, test_train_ratio)

    def compare(a: Float64Array, b: Float64Array) -> Row:
        n = a.size
        if n < 2:
            note = f"not applicable: {_count_blocks(n)}, but the t-test needs 2"
            return {"note": note, **(_difference_summary(a, b, alpha) if n else {})}
        row = _difference_summary(a, b, alpha, extra_variance=ratio)
        difference = a - b
        mean = float(difference.mean())
        scale = float(np.sqrt((1.0 / n + ratio) * difference.var(ddof=1)))
        row["df"] = n - 1
        if scale > 0:
            t = mean / scale
            row.update(statistic=t, p_value=2 * stats.t.sf(abs(t), n - 1))
        elif mean == 0:
            row.update(statistic=0.0, p_value=1.0, note="identical scores, so p = 1")
        else:
            note = "constant nonzero difference, so t is infinite and p = 0"
            row.update(statistic=np.sign(mean) * np.inf, p_value=0.0, note=note)
        return row

    rows, dropped = _compare_pairs(matrix, _pairs(matrix, control), compare)
    comparisons = _comparison_frame(rows, _T_TEST_COLUMNS, alpha, adjust=True)
    test = "corrected repeated CV t-test (Holm)"
    return _pairwise_result(test, comparisons, dropped, alpha, control)


def bayesian_correlated_t_test(
    matrix: BlockMatrix,
    control: str,
    *,
    rope: float = 0.01,
    test_train_ratio: float | None = None,
) -> ComparisonResult:
    """Compare each sampler with a control by the Bayesian correlated t-test.

    The posterior of the mean difference mu of sampler minus control is a
    Student t with n - 1 degrees of freedom, location mean(d) and scale
    sqrt((1 / n + rho / (1 - rho)) var(d)). The correlation is
    rho = n_test / (n_test + n_train), so rho / (1 - rho) = n_test / n_train.
    ``p_better`` is the posterior probability that the sampler beats the
    control by more than ``rope`` in the direction of
    ``matrix.greater_is_better``, ``p_worse`` the probability of the opposite
    and ``p_equivalent`` the probability that mu lies in [-rope, rope]. When
    var(d) is 0 the posterior is a point mass at mean(d).

    Parameters
    ----------
    matrix : BlockMatrix
        Scores of one dataset, with one block per (repeat, fold).
    control : str
        Sampler compared with every other sampler.
    rope : float, default 0.01
        Half-width of the region of practical equivalence, in metric units.
    test_train_ratio : float or None
        n_test / n_train. Defaults to ``matrix.test_train_ratio``.

    Returns
    -------
    ComparisonResult
        With ``alpha`` None and no p-value columns.

    References
    ----------
    .. [1] G. Corani and A. Benavoli (2015), A Bayesian approach for comparing
       cross-validated algorithms on multiple data sets, Machine Learning,
       100(2), 285-304.
    .. [2] A. Benavoli, G. Corani, J. Demšar and M. Zaffalon (2017), Time for a
       change: a tutorial for comparing multiple classifiers through Bayesian
       analysis, Journal of Machine Learning Research, 18(77), 1-36.
    """
    if not (np.isfinite(rope) and rope >= 0):
        raise ValueError(f"rope must be a non-negative number, got {rope}.")
    _check_control(matrix, control)
    ratio = _resolve_ratio(matrix, test_train_ratio)

    def compare(a: Float64Array, b: Float64Array) -> Row:
        n = a.size
        if n < 2:
            note = f"not applicable: {_count_blocks(n)}, but the test needs 2"
            return {"note": note}
        difference = a - b
        mean = float(difference.mean())
        scale = float(np.sqrt((1.0 / n + ratio) * difference.var(ddof=1)))
        note = ""
        if scale > 0:
            p_below = float(stats.t.cdf(-rope, n - 1, loc=mean, scale=scale))
            p_above = float(stats.t.sf(rope, n - 1, loc=mean, scale=scale))
        else:
            p_below, p_above = float(mean < -rope), float(mean > rope)
            note = "constant differences, so the posterior is a point mass"
        if not matrix.greater_is_better:
            p_below, p_above = p_above, p_below
        return {
            "mean_difference": mean,
            "scale": scale,
            "df": n - 1,
            "p_better": p_above,
            "p_equivalent": max(0.0, 1.0 - p_above - p_below),
            "p_worse": p_below,
            "cliffs_delta": cliffs_delta(a, b),
            "note": note,
        }

    rows, dropped = _compare_pairs(matrix, _pairs(matrix, control), compare)
    comparisons = _comparison_frame(rows, _BAYES_COLUMNS, None, adjust=False)
    test = "Bayesian correlated t-test"
    return _pairwise_result(test, comparisons, dropped, None, control, key="p_better")
