"""Run every significance test for one metric and classifier, with the reasons."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from benchmark._stat_across import (
    friedman_test,
    holm_control_test,
    nemenyi_test,
    wilcoxon_test,
)
from benchmark._stat_scores import (
    _cell_tables,
    _dataset_block_matrix,
    _fold_block_matrix,
    _select,
    _summary_table,
)
from benchmark._stat_tests import (
    BAYESIAN_COLUMNS,
    CORRECTED_T_COLUMNS,
    MIN_FRIEDMAN_BLOCKS,
    MIN_FRIEDMAN_SAMPLERS,
    MIN_WILCOXON_BLOCKS,
    ComparisonResult,
    FriedmanResult,
)
from benchmark._stat_within import bayesian_correlated_t_test, corrected_t_test
from benchmark.errors import ConfigurationError

__all__ = ["StatisticsReport", "build_report"]


@dataclass(frozen=True, eq=False)
class StatisticsReport:
    """Results of every test for one metric and classifier, with the reasons.

    Attributes
    ----------
    metric, classifier : str
        What was compared.
    greater_is_better : bool
        Direction of the metric.
    alpha : float
        Family-wise significance level of every frequentist test.
    rope : float
        Half-width of the region of practical equivalence of the Bayesian test.
    control : str or None
        Control sampler of the comparisons against a control.
    samplers, datasets : tuple of str
        Samplers compared and datasets with scores.
    summary : pandas.DataFrame
        Mean, std and rank per dataset and sampler (:func:`summarize_scores`).
    friedman : FriedmanResult
        Friedman and Iman–Davenport tests across datasets.
    posthoc : ComparisonResult
        Nemenyi test, or Holm-corrected comparisons of mean ranks against the
        control when one is given.
    wilcoxon : ComparisonResult
        Wilcoxon signed-rank tests of the per-dataset means, Holm-corrected.
    corrected_t : pandas.DataFrame
        Corrected repeated CV t-tests within each dataset, with a ``dataset``
        column. Holm's correction runs over the samplers of one dataset.
    bayesian : pandas.DataFrame
        Bayesian correlated t-tests within each dataset.
    methods : pandas.DataFrame
        One row per test: ``scope``, ``test``, ``applicable``,
        ``n_datasets``, ``n_samplers``, ``alpha`` and ``reason``, which
        states why the test was chosen or why it could not run.
    dropped : pandas.DataFrame
        Every block a test left out, with ``scope``, ``test`` and ``reason``.
        A sampler left out of the rank tests has a row with ``sampler`` set
        and no block.
    """

    metric: str
    classifier: str
    greater_is_better: bool
    alpha: float
    rope: float
    control: str | None
    samplers: tuple[str, ...]
    datasets: tuple[str, ...]
    summary: pd.DataFrame
    friedman: FriedmanResult
    posthoc: ComparisonResult
    wilcoxon: ComparisonResult
    corrected_t: pd.DataFrame
    bayesian: pd.DataFrame
    methods: pd.DataFrame
    dropped: pd.DataFrame

    @property
    def average_ranks(self) -> pd.DataFrame:
        """Average rank of each sampler over the complete datasets, best first."""
        ranks = self.friedman.average_ranks
        return ranks.rename_axis("sampler").reset_index(name="average_rank")

    def tables(self) -> dict[str, pd.DataFrame]:
        """Return every table of the report by name, in reading order."""
        return {
            "methods": self.methods,
            "summary": self.summary,
            "average_ranks": self.average_ranks,
            "friedman": self.friedman.to_frame(),
            "posthoc": self.posthoc.comparisons,
            "wilcoxon": self.wilcoxon.comparisons,
            "corrected_t": self.corrected_t,
            "bayesian": self.bayesian,
            "dropped": self.dropped,
        }

    def to_dict(self) -> dict[str, Any]:
        """Return the report as plain Python values, ready for ``json.dumps``.

        Tables become lists of records, with None for empty cells.
        """
        return {
            "metric": self.metric,
            "classifier": self.classifier,
            "greater_is_better": self.greater_is_better,
            "alpha": self.alpha,
            "rope": self.rope,
            "control": self.control,
            "samplers": list(self.samplers),
            "datasets": list(self.datasets),
            "critical_difference": self.posthoc.critical_difference,
            "tables": {name: _records(table) for name, table in self.tables().items()},
        }


def _plain(value: Any) -> Any:
    """Convert a table cell to a plain Python value, with None for empty cells."""
    if value is None or value is pd.NA:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and np.isnan(value):
        return None
    return value


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    rows = frame.astype(object).to_dict(orient="records")
    return [{str(key): _plain(value) for key, value in row.items()} for row in rows]


def _within_datasets(
    values: pd.DataFrame,
    reasons: pd.DataFrame,
    control: str,
    greater_is_better: bool,
    alpha: float,
    rope: float,
    test_train_ratio: float | None,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, list[str]]:
    """Run both tests within each dataset against ``control``.

    Returns the corrected t-test and Bayesian tables, the dropped blocks and
    the datasets skipped because n_test / n_train is unknown.
    """
    t_tables, bayes_tables, dropped_tables, skipped = [], [], [], []
    for dataset in values.index.unique("dataset"):
        matrix = _fold_block_matrix(
            values, reasons, dataset, greater_is_better, test_train_ratio
        )
        if matrix.test_train_ratio is None:
            skipped.append(str(dataset))
            continue
        t_test = corrected_t_test(matrix, control, alpha=alpha)
        bayes = bayesian_correlated_t_test(matrix, control, rope=rope)
        t_tables.append(t_test.comparisons.assign(dataset=dataset))
        bayes_tables.append(bayes.comparisons.assign(dataset=dataset))
        dropped_tables.append(t_test.dropped.assign(dataset=dataset))

    def combine(tables: list[pd.DataFrame], columns: list[str]) -> pd.DataFrame:
        columns = ["dataset", *columns]
        if not tables:
            return pd.DataFrame(columns=columns)
        return pd.concat(tables, ignore_index=True)[columns]

    dropped_columns = ["sampler_a", "sampler_b", "repeat", "fold", "reason"]
    return (
        combine(t_tables, CORRECTED_T_COLUMNS),
        combine(bayes_tables, BAYESIAN_COLUMNS),
        combine(dropped_tables, dropped_columns),
        skipped,
    )


def _across_reasons(report: dict[str, Any], n_datasets: int) -> list[str]:
    """Explain the choice of each test across datasets, or why it did not run."""
    friedman: FriedmanResult = report["friedman"]
    posthoc: ComparisonResult = report["posthoc"]
    wilcoxon: ComparisonResult = report["wilcoxon"]
    control, k = report["control"], friedman.n_samplers
    left_out = list(friedman.dropped_samplers["sampler"])
    friedman_reason = friedman.reason or (
        f"{k} samplers on {friedman.n_blocks} of {n_datasets} datasets with "
        f"complete scores. The test needs k >= {MIN_FRIEDMAN_SAMPLERS} samplers "
        f"and N >= {MIN_FRIEDMAN_BLOCKS} datasets, and its Iman-Davenport F "
        "decides rejection."
    )
    if left_out:
        friedman_reason += (
            f" Left out for missing scores, to keep more datasets: {left_out}."
        )

    if control is None:
        posthoc_reason = (
            f"No control sampler given, so all {k * (k - 1) // 2} pairs are compared."
        )
    else:
        posthoc_reason = (
            f"{k - 1} comparisons with control {control!r}, Holm-corrected."
        )
    if posthoc.critical_difference is not None:
        posthoc_reason += f" Critical difference {posthoc.critical_difference:.4g}."
    if friedman.rejected is False:
        posthoc_reason += (
            " The Friedman test did not reject, so these are for reference only."
        )

    pairs = "Each sampler against the control" if control else "All pairs of samplers"
    wilcoxon_reason = (
        f"{pairs} on per-dataset means. A pair needs {MIN_WILCOXON_BLOCKS} datasets "
        "with both scores. Unlike mean-rank tests, its outcome depends only on "
        "the two samplers compared."
    )
    if not wilcoxon.applicable:
        wilcoxon_reason = wilcoxon.reason
    elif wilcoxon.reason:
        wilcoxon_reason += f" {wilcoxon.reason[0].upper()}{wilcoxon.reason[1:]}."
    return [friedman_reason, posthoc.reason or posthoc_reason, wilcoxon_reason]


def _methods_table(
    report: dict[str, Any],
    skipped: list[str],
    n_datasets: int,
    test_train_ratio: float | None,
) -> pd.DataFrame:
    """State for each test whether it ran and why, from the report's parts."""
    friedman: FriedmanResult = report["friedman"]
    posthoc: ComparisonResult = report["posthoc"]
    wilcoxon: ComparisonResult = report["wilcoxon"]
    control = report["control"]
    tested = report["corrected_t"]["dataset"].nunique()
    if control is None:
        within = "not applicable: no control sampler given"
        t_reason = bayes_reason = within
    else:
        if test_train_ratio is None:
            ratio = "1 / (k - 1) for the k folds of each dataset"
        else:
            ratio = f"{test_train_ratio:.4g} as given"
        within = (
            f"Each sampler against {control!r} on the (repeat, fold) scores of "
            f"{tested} datasets, with n_test / n_train = {ratio}."
        )
        if skipped:
            within += f" Skipped with fewer than 2 folds: {skipped}."
        t_reason = f"{within} Holm's correction runs over the samplers of a dataset."
        bayes_reason = f"{within} Region of practical equivalence ±{report['rope']}."
    within_applicable = control is not None and tested > 0
    wilcoxon_blocks = wilcoxon.comparisons["n_blocks"]
    n = friedman.n_blocks

    methods = pd.DataFrame(
        {
            "scope": ["across datasets"] * 3 + ["within each dataset"] * 2,
            "test": [
                "Friedman with Iman-Davenport F",
                posthoc.test,
                wilcoxon.test,
                "corrected repeated CV t-test (Holm)",
                "Bayesian correlated t-test",
            ],
            "applicable": [
                friedman.applicable,
                posthoc.applicable,
                wilcoxon.applicable,
                within_applicable,
                within_applicable,
            ],
            "n_datasets": [
                n,
                n,
                int(wilcoxon_blocks.max()) if len(wilcoxon_blocks) else 0,
                tested,
                tested,
            ],
            "n_samplers": [friedman.n_samplers] * 2 + [len(report["samplers"])] * 3,
            # The Bayesian test has no significance level.
            "alpha": pd.array([report["alpha"]] * 4 + [None], dtype="Float64"),
            "reason": [*_across_reasons(report, n_datasets), t_reason, bayes_reason],
        }
    )
    return methods


def _dropped_table(
    friedman: FriedmanResult,
    wilcoxon: ComparisonResult,
    within: pd.DataFrame,
    skipped: list[str],
) -> pd.DataFrame:
    """Collect every dropped block, labelled with its scope and test."""
    parts = [
        friedman.dropped.assign(scope="across datasets", test="Friedman and post-hoc"),
        friedman.dropped_samplers.assign(
            scope="across datasets", test="Friedman and post-hoc"
        ),
        wilcoxon.dropped.assign(scope="across datasets", test=wilcoxon.test),
        within.assign(scope="within each dataset", test="corrected and Bayesian t"),
        pd.DataFrame(
            {
                "dataset": skipped,
                "reason": "fewer than 2 folds, so n_test / n_train is unknown",
            }
        ).assign(scope="within each dataset", test="corrected and Bayesian t"),
    ]
    columns = ["scope", "test", "dataset", "sampler", "sampler_a", "sampler_b"]
    columns += ["repeat", "fold"]
    parts = [part for part in parts if not part.empty]
    if not parts:
        return pd.DataFrame(columns=[*columns, "reason"])
    dropped = pd.concat(parts, ignore_index=True).reindex(columns=[*columns, "reason"])
    return dropped.astype(object).where(dropped.notna(), None)


def build_report(
    scores: pd.DataFrame,
    metric: str,
    *,
    classifier: str | None = None,
    greater_is_better: bool = True,
    control: str | None = None,
    alpha: float = 0.05,
    rope: float = 0.01,
    samplers: Sequence[str] | None = None,
    test_train_ratio: float | None = None,
) -> StatisticsReport:
    """Compare the samplers on one metric and classifier with every test.

    Across datasets, the report runs the Friedman test with the
    Iman–Davenport correction, then the Nemenyi test (no control) or Holm's
    comparisons of mean ranks against ``control``, and Wilcoxon signed-rank
    tests of the per-dataset means with Holm's correction. Within each
    dataset, and only when ``control`` is given, it runs the corrected
    repeated CV t-test (Holm-corrected over the samplers) and the Bayesian
    correlated t-test. :attr:`StatisticsReport.methods` states which test ran
    where and why.

    Parameters
    ----------
    scores : pandas.DataFrame
        Scores table, as accepted by :func:`~benchmark.statistics.validate_scores`.
    metric : str
        Metric to compare.
    classifier : str or None
        Classifier whose scores are used. May be omitted when the metric has
        scores for one classifier only.
    greater_is_better : bool, default True
        Whether a higher score is better.
    control : str or None
        Baseline sampler, for example the one without oversampling. It should
        be chosen before looking at the results.
    alpha : float, default 0.05
        Family-wise significance level.
    rope : float, default 0.01
        Region of practical equivalence of the Bayesian test, in metric units.
    samplers : sequence of str or None
        Samplers to compare. Defaults to every sampler with scores.
    test_train_ratio : float or None
        n_test / n_train for the tests within a dataset. Defaults to
        1 / (k - 1) for k folds, per dataset.

    Returns
    -------
    StatisticsReport

    Raises
    ------
    benchmark.errors.ConfigurationError
        A subclass of ValueError. Raised if the table is invalid, the metric,
        classifier or a sampler has no scores, ``control`` is not among the
        samplers, or ``alpha`` or ``rope`` is out of range.

    References
    ----------
    .. [1] J. Demšar (2006), Statistical comparisons of classifiers over
       multiple data sets, Journal of Machine Learning Research, 7, 1-30.
    .. [2] A. Benavoli, G. Corani, J. Demšar and M. Zaffalon (2017), Time for a
       change: a tutorial for comparing multiple classifiers through Bayesian
       analysis, Journal of Machine Learning Research, 18(77), 1-36.
    """
    if not 0 < alpha < 1:
        raise ConfigurationError(
            f"alpha must lie strictly between 0 and 1, got {alpha}."
        )
    if not (np.isfinite(rope) and rope >= 0):
        raise ConfigurationError(f"rope must be a non-negative number, got {rope}.")
    selected, classifier, chosen = _select(scores, metric, classifier, samplers)
    if control is not None and control not in chosen:
        raise ConfigurationError(
            f"control sampler {control!r} is not among the samplers {chosen}. "
            "Pass one of them, or leave control unset."
        )
    values, reasons = _cell_tables(selected, chosen)
    summary = _summary_table(values, reasons, greater_is_better, control)
    summary.insert(1, "classifier", classifier)
    matrix = _dataset_block_matrix(values, reasons, greater_is_better)
    if control is None:
        posthoc = nemenyi_test(matrix, alpha=alpha)
    else:
        posthoc = holm_control_test(matrix, control, alpha=alpha)

    parts: dict[str, Any] = {
        "metric": metric,
        "classifier": classifier,
        "greater_is_better": greater_is_better,
        "alpha": alpha,
        "rope": rope,
        "control": control,
        "samplers": tuple(chosen),
        "datasets": tuple(str(d) for d in matrix.values.index),
        "summary": summary,
        "friedman": friedman_test(matrix, alpha=alpha, control=control),
        "posthoc": posthoc,
        "wilcoxon": wilcoxon_test(matrix, control=control, alpha=alpha),
    }
    within_dropped = pd.DataFrame()
    skipped: list[str] = []
    if control is None:
        parts["corrected_t"] = pd.DataFrame(columns=["dataset", *CORRECTED_T_COLUMNS])
        parts["bayesian"] = pd.DataFrame(columns=["dataset", *BAYESIAN_COLUMNS])
    else:
        within = _within_datasets(
            values, reasons, control, greater_is_better, alpha, rope, test_train_ratio
        )
        parts["corrected_t"], parts["bayesian"], within_dropped, skipped = within
    parts["methods"] = _methods_table(
        parts, skipped, len(parts["datasets"]), test_train_ratio
    )
    parts["dropped"] = _dropped_table(
        parts["friedman"], parts["wilcoxon"], within_dropped, skipped
    )
    return StatisticsReport(**parts)
