"""Statistical comparison of samplers from a scores table.

The functions here take the tidy scores table that a run writes to
``scores.csv``, with one row per (dataset, sampler, classifier, repeat, fold,
metric) and the score in ``value``. An empty ``value`` is a missing score, and
the optional ``note`` column gives the reason. Every function is pure and
works on pandas DataFrames, so nothing here reads files or prints.

Missing scores follow one policy. A test uses a block only when every sampler
it compares has a score there. For the tests across datasets a block is a
dataset, and a sampler has a score on a dataset only when it has a score in
every (repeat, fold) of that dataset. For the paired tests within one dataset
a block is one (repeat, fold). Dropped blocks are listed with their reasons in
each result. See ``docs/statistics.md`` for which test is used when.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from benchmark._stat_tests import (
    BAYESIAN_COLUMNS,
    CORRECTED_T_COLUMNS,
    MIN_FRIEDMAN_BLOCKS,
    MIN_FRIEDMAN_SAMPLERS,
    MIN_WILCOXON_BLOCKS,
    BlockMatrix,
    ComparisonResult,
    FriedmanResult,
    bayesian_correlated_t_test,
    cliffs_delta,
    corrected_t_test,
    friedman_test,
    holm_adjust,
    holm_control_test,
    nemenyi_test,
    wilcoxon_test,
)

__all__ = [
    "REQUIRED_COLUMNS",
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
    "load_scores",
    "nemenyi_test",
    "summarize_scores",
    "wilcoxon_test",
]

REQUIRED_COLUMNS = (
    "dataset",
    "sampler",
    "classifier",
    "repeat",
    "fold",
    "metric",
    "value",
)
KEY_COLUMNS = REQUIRED_COLUMNS[:-1]
_LABEL_COLUMNS = ("dataset", "sampler", "classifier", "metric")
_CELL = "(repeat, fold)"


def load_scores(frame: pd.DataFrame) -> pd.DataFrame:
    """Validate a scores table and return a cleaned copy.

    Parameters
    ----------
    frame : pandas.DataFrame
        A table with the columns in :data:`REQUIRED_COLUMNS`, for example
        ``pandas.read_csv("scores.csv")``. An optional ``note`` column gives
        the reason for each missing score. Other columns are kept unchanged.

    Returns
    -------
    pandas.DataFrame
        A copy in which ``dataset``, ``sampler``, ``classifier`` and ``metric``
        are strings, ``value`` is float64 with NaN for a missing score, and
        ``note`` is a string column ("" when absent).

    Raises
    ------
    ValueError
        If a required column is missing, a key column has an empty cell, a
        value is not a number or is infinite, or a row key is repeated.

    References
    ----------
    .. [1] H. Wickham (2014), Tidy data, Journal of Statistical Software,
       59(10).
    """
    missing = [column for column in REQUIRED_COLUMNS if column not in frame.columns]
    if missing:
        raise ValueError(
            f"scores table is missing the column(s) {missing}. The required "
            f"columns are {list(REQUIRED_COLUMNS)}, plus an optional 'note'."
        )
    scores = frame.reset_index(drop=True).copy()
    for column in KEY_COLUMNS:
        empty = scores[column].isna().to_numpy()
        if empty.any():
            raise ValueError(
                f"column {column!r} is empty in {int(empty.sum())} row(s), first at "
                f"row {int(np.flatnonzero(empty)[0])}. Every row needs a value in each "
                f"of {list(KEY_COLUMNS)}."
            )
    for column in _LABEL_COLUMNS:
        scores[column] = scores[column].astype(str)

    raw = scores["value"]
    blank = raw.isna() | raw.astype(str).str.strip().eq("")
    values = pd.to_numeric(raw.where(~blank), errors="coerce").astype(np.float64)
    invalid = (values.isna() & ~blank).to_numpy()
    if invalid.any():
        row = int(np.flatnonzero(invalid)[0])
        raise ValueError(
            f"column 'value' has {int(invalid.sum())} non-numeric entry(ies), "
            f"first {raw.iloc[row]!r} at row {row}. Leave a missing score empty "
            "and put the reason in 'note'."
        )
    infinite = np.isinf(values.to_numpy())
    if infinite.any():
        row = int(np.flatnonzero(infinite)[0])
        raise ValueError(
            f"column 'value' has {int(infinite.sum())} infinite entry(ies), first "
            f"at row {row}. Leave a missing score empty and put the reason in 'note'."
        )
    scores["value"] = values
    notes = scores["note"] if "note" in scores.columns else pd.Series("", scores.index)
    notes = notes.astype(object)
    scores["note"] = notes.where(notes.notna(), "").astype(str)

    repeated = scores.duplicated(list(KEY_COLUMNS), keep=False).to_numpy()
    if repeated.any():
        first = scores.loc[int(np.flatnonzero(repeated)[0]), list(KEY_COLUMNS)]
        raise ValueError(
            f"{int(repeated.sum())} rows repeat the key {list(KEY_COLUMNS)}, for "
            f"example {first.tolist()}. Each score must appear once, so remove the "
            "repeated rows."
        )
    return scores


def _check_metric(scores: pd.DataFrame, metric: str) -> None:
    metrics = sorted(scores["metric"].unique())
    if metric not in metrics:
        raise ValueError(
            f"metric {metric!r} not found in the scores. Metrics present: {metrics}"
        )


def _select(
    scores: pd.DataFrame,
    metric: str,
    classifier: str | None,
    samplers: Sequence[str] | None,
) -> tuple[pd.DataFrame, str, list[str]]:
    """Return the validated rows of one metric and classifier, and the samplers."""
    scores = load_scores(scores)
    _check_metric(scores, metric)
    selected = scores[scores["metric"] == metric]
    classifiers = sorted(selected["classifier"].unique())
    if classifier is None:
        if len(classifiers) != 1:
            raise ValueError(
                f"metric {metric!r} has scores for several classifiers "
                f"{classifiers}. Pass classifier= to choose one."
            )
        classifier = classifiers[0]
    elif classifier not in classifiers:
        raise ValueError(
            f"classifier {classifier!r} has no {metric!r} scores. Classifiers "
            f"present: {classifiers}"
        )
    selected = selected[selected["classifier"] == classifier]
    present = sorted(selected["sampler"].unique())
    if samplers is None:
        return selected, classifier, present
    unknown = [sampler for sampler in samplers if sampler not in present]
    if unknown:
        raise ValueError(
            f"sampler(s) {unknown} have no {metric!r} scores for classifier "
            f"{classifier!r}. Samplers present: {present}"
        )
    chosen = list(dict.fromkeys(samplers))
    return selected[selected["sampler"].isin(chosen)], classifier, chosen


def _cell_tables(
    selected: pd.DataFrame, samplers: list[str]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Pivot scores and missing reasons to (dataset, repeat, fold) by sampler.

    The rows are every (dataset, repeat, fold) that occurs for any sampler, so
    a sampler without a row for that cell gets NaN as well.
    """
    index = ["dataset", "repeat", "fold"]
    values = selected.pivot(index=index, columns="sampler", values="value")
    values = values.reindex(columns=samplers).sort_index()
    values.columns.name = None
    notes = selected.pivot(index=index, columns="sampler", values="note")
    notes = notes.reindex(index=values.index, columns=samplers)
    notes.columns.name = None
    reasons = notes.where(notes.ne(""), "value empty")
    reasons = reasons.fillna("no row in the scores table").astype(object)
    return values, reasons.where(values.isna())


def _dataset_reason(missing_reasons: pd.Series, n_cells: int) -> str:
    """Describe why a sampler has no score on a dataset."""
    notes = list(dict.fromkeys(missing_reasons.dropna()))
    listed = "; ".join(notes[:2])
    if len(notes) > 2:
        listed += f"; and {len(notes) - 2} other reasons"
    return f"{len(missing_reasons)} of {n_cells} {_CELL} scores missing ({listed})"


def _dataset_block_matrix(
    values: pd.DataFrame, reasons: pd.DataFrame, greater_is_better: bool
) -> BlockMatrix:
    """Average each sampler over the cells of each dataset it completed."""
    grouped = values.groupby(level="dataset", sort=True)
    complete = grouped.count().eq(grouped.size(), axis=0)
    means = grouped.mean().where(complete)
    dataset_reasons = pd.DataFrame(
        None, index=means.index, columns=means.columns, dtype=object
    )
    for dataset, cells in values.groupby(level="dataset", sort=True):
        for sampler in values.columns:
            missing = cells[sampler].isna().to_numpy()
            if missing.any():
                cell_reasons = reasons.loc[cells.index[missing], sampler]
                reason = _dataset_reason(cell_reasons, len(cells))
                dataset_reasons.at[dataset, sampler] = reason
    return BlockMatrix(means, greater_is_better, missing_reasons=dataset_reasons)


def _fold_block_matrix(
    values: pd.DataFrame,
    reasons: pd.DataFrame,
    dataset: str,
    greater_is_better: bool,
    test_train_ratio: float | None,
) -> BlockMatrix:
    """Select the (repeat, fold) rows of one dataset."""
    fold_values = values.xs(dataset, level="dataset")
    if test_train_ratio is None:
        # k-fold cross-validation trains on k - 1 folds and tests on one.
        # NOTE: this assumes folds of equal size and that every fold id of the
        # run occurs in the scores of this dataset.
        n_folds = fold_values.index.get_level_values("fold").nunique()
        test_train_ratio = 1.0 / (n_folds - 1) if n_folds >= 2 else None
    return BlockMatrix(
        fold_values,
        greater_is_better,
        missing_reasons=reasons.xs(dataset, level="dataset"),
        test_train_ratio=test_train_ratio,
    )


def dataset_matrix(
    scores: pd.DataFrame,
    metric: str,
    *,
    classifier: str | None = None,
    greater_is_better: bool = True,
    samplers: Sequence[str] | None = None,
) -> BlockMatrix:
    """Build the dataset-by-sampler matrix of mean scores for the tests across datasets.

    A sampler's score on a dataset is its mean over every (repeat, fold) that
    occurs for that dataset. A sampler missing any of those scores gets NaN,
    with the number missing and their notes as the reason, because a mean
    over fewer folds is not comparable with the other samplers' means.

    Parameters
    ----------
    scores : pandas.DataFrame
        Scores table, as accepted by :func:`load_scores`.
    metric : str
        Metric to compare.
    classifier : str or None
        Classifier whose scores are used. May be omitted when the metric has
        scores for one classifier only.
    greater_is_better : bool, default True
        Whether a higher score is better.
    samplers : sequence of str or None
        Samplers to include, in this column order. Defaults to every sampler
        with scores for the metric and classifier, sorted by name.

    Returns
    -------
    BlockMatrix
        Index ``dataset``, one column per sampler.

    Raises
    ------
    ValueError
        If the table is invalid, or the metric, classifier or a sampler has no
        scores.

    References
    ----------
    .. [1] J. Demšar (2006), Statistical comparisons of classifiers over
       multiple data sets, Journal of Machine Learning Research, 7, 1-30.
    """
    selected, _, chosen = _select(scores, metric, classifier, samplers)
    values, reasons = _cell_tables(selected, chosen)
    return _dataset_block_matrix(values, reasons, greater_is_better)


def fold_matrix(
    scores: pd.DataFrame,
    metric: str,
    dataset: str,
    *,
    classifier: str | None = None,
    greater_is_better: bool = True,
    samplers: Sequence[str] | None = None,
    test_train_ratio: float | None = None,
) -> BlockMatrix:
    """Build the (repeat, fold)-by-sampler matrix of one dataset.

    Parameters
    ----------
    scores : pandas.DataFrame
        Scores table, as accepted by :func:`load_scores`.
    metric : str
        Metric to compare.
    dataset : str
        Dataset whose folds form the blocks.
    classifier : str or None
        Classifier whose scores are used. May be omitted when the metric has
        scores for one classifier only.
    greater_is_better : bool, default True
        Whether a higher score is better.
    samplers : sequence of str or None
        Samplers to include. Defaults to every sampler with scores.
    test_train_ratio : float or None
        n_test / n_train of one split. Defaults to 1 / (k - 1), where k is the
        number of distinct fold ids of the dataset, as in k-fold
        cross-validation. Stays None with fewer than 2 folds.

    Returns
    -------
    BlockMatrix
        Index (``repeat``, ``fold``), one column per sampler.

    Raises
    ------
    ValueError
        If the table is invalid, or the metric, classifier, dataset or a
        sampler has no scores.

    References
    ----------
    .. [1] C. Nadeau and Y. Bengio (2003), Inference for the generalization
       error, Machine Learning, 52(3), 239-281.
    """
    selected, classifier, chosen = _select(scores, metric, classifier, samplers)
    datasets = sorted(selected["dataset"].unique())
    if dataset not in datasets:
        raise ValueError(
            f"dataset {dataset!r} has no {metric!r} scores for classifier "
            f"{classifier!r}. Datasets present: {datasets}"
        )
    values, reasons = _cell_tables(selected[selected["dataset"] == dataset], chosen)
    return _fold_block_matrix(
        values, reasons, dataset, greater_is_better, test_train_ratio
    )


def _long(frame: pd.DataFrame, name: str) -> pd.DataFrame:
    """Melt a dataset-by-sampler table into (dataset, sampler, name) rows."""
    frame = frame.rename_axis(index="dataset", columns=None).reset_index()
    return frame.melt(id_vars="dataset", var_name="sampler", value_name=name)


def _summary_table(
    values: pd.DataFrame, reasons: pd.DataFrame, greater_is_better: bool
) -> pd.DataFrame:
    """Summarize one classifier's cell table per dataset and sampler."""
    grouped = values.groupby(level="dataset", sort=True)
    matrix = _dataset_block_matrix(values, reasons, greater_is_better)
    _, dropped = matrix.complete_blocks()
    parts = [
        _long(grouped.mean(), "mean"),
        _long(grouped.std(ddof=1), "std"),
        _long(grouped.count(), "n_scores"),
        _long(grouped.count().rsub(grouped.size(), axis=0), "n_missing"),
        _long(matrix.ranks(), "rank"),
        _long(matrix.missing_reasons, "missing"),
    ]
    summary = parts[0]
    for part in parts[1:]:
        summary = summary.merge(part, on=["dataset", "sampler"], how="left")
    not_ranked = dict(zip(dropped["dataset"], dropped["reason"], strict=True))

    def describe(row: pd.Series) -> str:
        notes = []
        if isinstance(row["missing"], str):
            notes.append(row["missing"])
        if row["n_scores"] == 1:
            notes.append("std undefined for a single score")
        if row["dataset"] in not_ranked:
            notes.append(f"not ranked: {not_ranked[row['dataset']]}")
        return "; ".join(notes)

    summary["note"] = summary.apply(describe, axis=1).astype(str)
    summary[["n_scores", "n_missing"]] = summary[["n_scores", "n_missing"]].astype(
        np.int64
    )
    summary = summary.sort_values(["dataset", "sampler"], kind="stable")
    return summary.drop(columns="missing").reset_index(drop=True)


def summarize_scores(
    scores: pd.DataFrame, metric: str, *, greater_is_better: bool = True
) -> pd.DataFrame:
    """Summarize each sampler per dataset and classifier: mean, std and rank.

    Parameters
    ----------
    scores : pandas.DataFrame
        Scores table, as accepted by :func:`load_scores`.
    metric : str
        Metric to summarize.
    greater_is_better : bool, default True
        Whether a higher score is better, which sets the rank order.

    Returns
    -------
    pandas.DataFrame
        One row per (dataset, classifier, sampler) with ``mean`` and ``std``
        (ddof = 1) over the scores present, ``n_scores``, ``n_missing``,
        ``rank`` and ``note``. Ranks run from 1 = best within each dataset
        and classifier, and tied samplers share the average rank. A dataset
        on which a sampler misses a score is not ranked, and ``note`` gives
        the reason. ``note`` also explains an empty ``std``.

    Raises
    ------
    ValueError
        If the table is invalid or the metric has no scores.

    References
    ----------
    .. [1] J. Demšar (2006), Statistical comparisons of classifiers over
       multiple data sets, Journal of Machine Learning Research, 7, 1-30.
    """
    scores = load_scores(scores)
    _check_metric(scores, metric)
    frames = []
    for classifier in sorted(scores["classifier"].unique()):
        selected = scores[
            (scores["metric"] == metric) & (scores["classifier"] == classifier)
        ]
        if selected.empty:
            continue
        samplers = sorted(selected["sampler"].unique())
        table = _summary_table(*_cell_tables(selected, samplers), greater_is_better)
        table.insert(1, "classifier", classifier)
        frames.append(table)
    return pd.concat(frames, ignore_index=True)


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
    control, k = report["control"], len(report["samplers"])
    friedman_reason = friedman.reason or (
        f"{k} samplers on {friedman.n_blocks} of {n_datasets} datasets with "
        f"complete scores. The test needs k >= {MIN_FRIEDMAN_SAMPLERS} samplers "
        f"and N >= {MIN_FRIEDMAN_BLOCKS} datasets, and its Iman-Davenport F "
        "decides rejection."
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
            "n_samplers": len(report["samplers"]),
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
        wilcoxon.dropped.assign(scope="across datasets", test=wilcoxon.test),
        within.assign(scope="within each dataset", test="corrected and Bayesian t"),
        pd.DataFrame(
            {
                "dataset": skipped,
                "reason": "fewer than 2 folds, so n_test / n_train is unknown",
            }
        ).assign(scope="within each dataset", test="corrected and Bayesian t"),
    ]
    columns = ["scope", "test", "dataset", "sampler_a", "sampler_b", "repeat", "fold"]
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
        Scores table, as accepted by :func:`load_scores`.
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
    ValueError
        If the table is invalid, the metric, classifier or a sampler has no
        scores, ``control`` is not among the samplers, or ``alpha`` or ``rope``
        is out of range.

    References
    ----------
    .. [1] J. Demšar (2006), Statistical comparisons of classifiers over
       multiple data sets, Journal of Machine Learning Research, 7, 1-30.
    .. [2] A. Benavoli, G. Corani, J. Demšar and M. Zaffalon (2017), Time for a
       change: a tutorial for comparing multiple classifiers through Bayesian
       analysis, Journal of Machine Learning Research, 18(77), 1-36.
    """
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must lie strictly between 0 and 1, got {alpha}.")
    if not (np.isfinite(rope) and rope >= 0):
        raise ValueError(f"rope must be a non-negative number, got {rope}.")
    selected, classifier, chosen = _select(scores, metric, classifier, samplers)
    if control is not None and control not in chosen:
        raise ValueError(
            f"control sampler {control!r} is not among the samplers {chosen}. "
            "Pass one of them, or leave control unset."
        )
    values, reasons = _cell_tables(selected, chosen)
    summary = _summary_table(values, reasons, greater_is_better)
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
        "friedman": friedman_test(matrix, alpha=alpha),
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
