"""Validate a scores table and build the score matrices of the tests.

The scores table has one row per (dataset, sampler, classifier, repeat, fold,
metric) and the score in ``value``. An empty ``value`` is a missing score, and
the optional ``note`` column gives the reason.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from benchmark._stat_tests import BlockMatrix
from benchmark.errors import ConfigurationError
from benchmark.store import SCORE_COLUMNS

__all__ = [
    "dataset_matrix",
    "fold_matrix",
    "summarize_scores",
    "validate_scores",
]

KEY_COLUMNS = tuple(column for column in SCORE_COLUMNS if column != "value")
_LABEL_COLUMNS = ("dataset", "sampler", "classifier", "metric")
_CELL = "(repeat, fold)"


def validate_scores(frame: pd.DataFrame) -> pd.DataFrame:
    """Validate a scores table and return a cleaned copy.

    Parameters
    ----------
    frame : pandas.DataFrame
        A table with the columns in :data:`benchmark.store.SCORE_COLUMNS`, for
        example ``pandas.read_csv("scores.csv")``. An optional ``note`` column
        gives the reason for each missing score. Other columns are kept
        unchanged.

    Returns
    -------
    pandas.DataFrame
        A copy in which ``dataset``, ``sampler``, ``classifier`` and ``metric``
        are strings, ``value`` is float64 with NaN for a missing score, and
        ``note`` is a string column ("" when absent).

    Raises
    ------
    benchmark.errors.ConfigurationError
        A subclass of ValueError. Raised if a required column is missing, a
        key column has an empty cell, a value is not a number or is infinite,
        or a row key is repeated.

    References
    ----------
    .. [1] H. Wickham (2014), Tidy data, Journal of Statistical Software,
       59(10).
    """
    missing = [column for column in SCORE_COLUMNS if column not in frame.columns]
    if missing:
        raise ConfigurationError(
            f"scores table is missing the column(s) {missing}. The required "
            f"columns are {list(SCORE_COLUMNS)}, plus an optional 'note'."
        )
    scores = frame.reset_index(drop=True).copy()
    for column in KEY_COLUMNS:
        empty = scores[column].isna().to_numpy()
        if empty.any():
            raise ConfigurationError(
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
        raise ConfigurationError(
            f"column 'value' has {int(invalid.sum())} non-numeric entry(ies), "
            f"first {raw.iloc[row]!r} at row {row}. Leave a missing score empty "
            "and put the reason in 'note'."
        )
    infinite = np.isinf(values.to_numpy())
    if infinite.any():
        row = int(np.flatnonzero(infinite)[0])
        raise ConfigurationError(
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
        raise ConfigurationError(
            f"{int(repeated.sum())} rows repeat the key {list(KEY_COLUMNS)}, for "
            f"example {first.tolist()}. Each score must appear once, so remove the "
            "repeated rows."
        )
    return scores


def check_metric(scores: pd.DataFrame, metric: str) -> None:
    """Raise ConfigurationError listing the metrics present if ``metric`` is absent."""
    metrics = sorted(scores["metric"].astype(str).unique())
    if metric not in metrics:
        present = ", ".join(metrics) if metrics else "none (the table is empty)"
        raise ConfigurationError(
            f"metric {metric!r} is not in these scores. Metrics present: {present}."
        )


def _select(
    scores: pd.DataFrame,
    metric: str,
    classifier: str | None,
    samplers: Sequence[str] | None,
) -> tuple[pd.DataFrame, str, list[str]]:
    """Return the validated rows of one metric and classifier, and the samplers."""
    scores = validate_scores(scores)
    check_metric(scores, metric)
    selected = scores[scores["metric"] == metric]
    classifiers = sorted(selected["classifier"].unique())
    if classifier is None:
        if len(classifiers) != 1:
            raise ConfigurationError(
                f"metric {metric!r} has scores for several classifiers "
                f"{classifiers}. Pass classifier= to choose one."
            )
        classifier = classifiers[0]
    elif classifier not in classifiers:
        raise ConfigurationError(
            f"classifier {classifier!r} has no {metric!r} scores. Classifiers "
            f"present: {classifiers}"
        )
    selected = selected[selected["classifier"] == classifier]
    present = sorted(selected["sampler"].unique())
    if samplers is None:
        return selected, classifier, present
    unknown = [sampler for sampler in samplers if sampler not in present]
    if unknown:
        raise ConfigurationError(
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
        Scores table, as accepted by :func:`validate_scores`.
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
    benchmark.errors.ConfigurationError
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
        Scores table, as accepted by :func:`validate_scores`.
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
    benchmark.errors.ConfigurationError
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
        raise ConfigurationError(
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
    values: pd.DataFrame,
    reasons: pd.DataFrame,
    greater_is_better: bool,
    control: str | None = None,
) -> pd.DataFrame:
    """Summarize one classifier's cell table per dataset and sampler.

    Ranks come from the sub-matrix of the Friedman test with ``control``.
    """
    grouped = values.groupby(level="dataset", sort=True)
    matrix = _dataset_block_matrix(values, reasons, greater_is_better)
    _, dropped, dropped_samplers = matrix.complete_submatrix(control)
    parts = [
        _long(grouped.mean(), "mean"),
        _long(grouped.std(ddof=1), "std"),
        _long(grouped.count(), "n_scores"),
        _long(grouped.count().rsub(grouped.size(), axis=0), "n_missing"),
        _long(matrix.ranks(control), "rank"),
        _long(matrix.missing_reasons, "missing"),
    ]
    summary = parts[0]
    for part in parts[1:]:
        summary = summary.merge(part, on=["dataset", "sampler"], how="left")
    not_ranked = dict(zip(dropped["dataset"], dropped["reason"], strict=True))
    unranked_samplers = set(dropped_samplers["sampler"])

    def describe(row: pd.Series) -> str:
        notes = []
        if isinstance(row["missing"], str):
            notes.append(row["missing"])
        if row["n_scores"] == 1:
            notes.append("std undefined for a single score")
        if row["dataset"] in not_ranked:
            notes.append(f"not ranked: {not_ranked[row['dataset']]}")
        elif row["sampler"] in unranked_samplers:
            notes.append(
                "not ranked: sampler left out of the rank tests for its missing scores"
            )
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
        Scores table, as accepted by :func:`validate_scores`.
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
        and classifier, and tied samplers share the average rank. Only the
        datasets and samplers that :meth:`BlockMatrix.complete_submatrix`
        keeps are ranked, and ``note`` gives the reason for the others.
        ``note`` also explains an empty ``std``.

    Raises
    ------
    benchmark.errors.ConfigurationError
        If the table is invalid or the metric has no scores.

    References
    ----------
    .. [1] J. Demšar (2006), Statistical comparisons of classifiers over
       multiple data sets, Journal of Machine Learning Research, 7, 1-30.
    """
    scores = validate_scores(scores)
    check_metric(scores, metric)
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
