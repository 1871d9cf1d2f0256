"""Statistical comparison of samplers from a scores table.

The functions here take the tidy scores table that a run writes to
``scores.csv``, with one row per (dataset, sampler, classifier, repeat, fold,
metric) and the score in ``value``. An empty ``value`` is a missing score, and
the optional ``note`` column gives the reason. Every function is pure and
works on pandas DataFrames, so nothing here reads files or prints;
:func:`benchmark.report.read_scores` reads a run directory or CSV file.

Missing scores follow one policy. A test uses a block only when every sampler
it compares has a score there. For the tests across datasets a block is a
dataset, and a sampler has a score on a dataset only when it has a score in
every (repeat, fold) of that dataset. For the paired tests within one dataset
a block is one (repeat, fold). Dropped blocks are listed with their reasons in
each result. See ``docs/statistics.md`` for which test is used when.

The code lives in private modules: ``_stat_scores`` (validation, matrices and
summaries), ``_stat_tests`` (matrix and result types), ``_stat_across`` and
``_stat_within`` (the tests), and ``_stat_report`` (:func:`build_report`).
"""

from __future__ import annotations

from benchmark._stat_across import (
    friedman_test,
    holm_control_test,
    nemenyi_test,
    wilcoxon_test,
)
from benchmark._stat_report import StatisticsReport, build_report
from benchmark._stat_scores import (
    dataset_matrix,
    fold_matrix,
    summarize_scores,
    validate_scores,
)
from benchmark._stat_tests import (
    BlockMatrix,
    ComparisonResult,
    FriedmanResult,
    cliffs_delta,
    holm_adjust,
)
from benchmark._stat_within import bayesian_correlated_t_test, corrected_t_test

__all__ = [
    "BlockMatrix",
    "ComparisonResult",
    "FriedmanResult",
    "StatisticsReport",
    "bayesian_correlated_t_test",
    "build_report",
    "cliffs_delta",
    "corrected_t_test",
    "dataset_matrix",
    "fold_matrix",
    "friedman_test",
    "holm_adjust",
    "holm_control_test",
    "nemenyi_test",
    "summarize_scores",
    "validate_scores",
    "wilcoxon_test",
]
