"""Turn stored scores into leaderboards with significance tests.

A leaderboard has one row per sampler and one column per dataset. A cell
contains the mean ± standard deviation of a metric over the (repeat, fold)
scores of the dataset and the sampler's rank there. The last column is the
average rank across datasets (rank 1 is best, and ties share the average rank). Each
classifier gets one leaderboard with the tests of
:func:`benchmark.statistics.build_report`. These are Friedman and its post-hoc
tests across datasets and, when a control sampler is given, the corrected and
Bayesian t-tests within each dataset. :mod:`benchmark._report_formats` renders
them as terminal text, Markdown, LaTeX, HTML or CSV, and
:mod:`benchmark._cd_diagram` draws the critical-difference diagram.

```python
from benchmark.report import build_leaderboards, read_scores, render_report

scores = read_scores("runs/20240601-120000")
boards = build_leaderboards(scores, "auc", control="none")
print(render_report(boards, "markdown"))
```
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from benchmark._cd_diagram import write_cd_diagram
from benchmark._report_content import cell_parts, count, format_number
from benchmark._report_formats import FORMATS, render_report
from benchmark._stat_scores import check_metric, dataset_matrix, validate_scores
from benchmark._stat_tests import ComparisonResult
from benchmark.errors import ConfigurationError
from benchmark.plugins import Registry
from benchmark.statistics import StatisticsReport, build_report, nemenyi_test
from benchmark.store import SCORE_COLUMNS, ResultStore

__all__ = [
    "DEFAULT_METRIC",
    "FAILURE_COLUMNS",
    "FORMATS",
    "Leaderboard",
    "build_leaderboards",
    "protocol_notice",
    "read_failures",
    "read_scores",
    "render_report",
    "write_cd_diagram",
    "write_outputs",
]

DEFAULT_METRIC = "auc"
# Columns of failures.csv that the report reads. Run directories also store
# the task seed there.
FAILURE_COLUMNS = ["dataset", "sampler", "classifier", "repeat", "fold", "error"]
_KEYS = ["dataset", "sampler", "classifier", "repeat", "fold"]


def _run_directory(source: Path) -> Path | None:
    """Return the run directory of ``source``, or None for a stand-alone CSV."""
    if source.is_dir():
        return source
    if source.name == "scores.csv" and (source.parent / "run.json").exists():
        return source.parent
    return None


def _read_csv(path: Path, kind: str, columns: Sequence[str]) -> pd.DataFrame:
    try:
        return pd.read_csv(path)
    except pd.errors.EmptyDataError:
        raise ConfigurationError(
            f"{kind} file {path} is empty. It needs a header row with the columns "
            f"{', '.join(columns)}."
        ) from None
    except (pd.errors.ParserError, UnicodeDecodeError) as error:
        raise ConfigurationError(
            f"{kind} file {path} is not a readable CSV file: {error}"
        ) from None


def read_scores(source: str | Path) -> pd.DataFrame:
    """Read and validate ``scores.csv`` of a run directory, or any tidy CSV file.

    Parameters
    ----------
    source : str or pathlib.Path
        A run directory written by ``bench run``, or a CSV file with the
        columns of :data:`benchmark.store.SCORE_COLUMNS` and an optional
        ``note``, in any order. Other columns are kept.

    Returns
    -------
    pandas.DataFrame
        The table as cleaned by :func:`benchmark.statistics.validate_scores`.

    Raises
    ------
    benchmark.errors.ConfigurationError
        If the path does not exist, the file is not CSV, or the table is
        invalid; the message names the file.
    """
    source = Path(source)
    path = source / "scores.csv" if source.is_dir() else source
    if not path.exists():
        where = (
            f"run directory {source} has no scores.csv"
            if source.is_dir()
            else f"scores file {path} not found"
        )
        hint = ""
        if source.is_dir() and (source / "results.sqlite").exists():
            hint = (
                " The run was stopped before it exported its scores; rerun the same "
                "`bench run` command with this --output to resume it, which writes "
                "scores.csv."
            )
        raise ConfigurationError(
            f"{where}. Pass a run directory written by `bench run` or a CSV file "
            f"with the columns {', '.join(SCORE_COLUMNS)}.{hint}"
        )
    try:
        return validate_scores(_read_csv(path, "scores", SCORE_COLUMNS))
    except ConfigurationError as error:
        raise ConfigurationError(f"{path}: {error}") from None


def read_failures(source: str | Path) -> pd.DataFrame:
    """Read ``failures.csv`` of the run directory of ``source``.

    Returns the columns :data:`FAILURE_COLUMNS`, with no rows when ``source``
    is a stand-alone CSV file or the run has no failures file.
    """
    run_dir = _run_directory(Path(source))
    path = None if run_dir is None else run_dir / "failures.csv"
    if path is None or not path.exists():
        return pd.DataFrame(columns=FAILURE_COLUMNS)
    failures = _read_csv(path, "failures", FAILURE_COLUMNS)
    missing = [column for column in FAILURE_COLUMNS if column not in failures]
    if missing:
        raise ConfigurationError(
            f"{path} is missing the column(s) {missing}. A failures file needs "
            f"the columns {FAILURE_COLUMNS}."
        )
    return failures[FAILURE_COLUMNS]


@dataclass(frozen=True, eq=False)
class Leaderboard:
    """Leaderboard and significance tests of one metric and classifier.

    Attributes
    ----------
    metric, classifier : str
        What the leaderboard compares.
    greater_is_better : bool
        Direction of the metric.
    alpha, rope : float
        Significance level and region of practical equivalence of the tests.
    control : str or None
        Sampler the marks and the tests within a dataset compare with.
    cells : pandas.DataFrame
        One row per (dataset, sampler) with ``mean``, ``std``, ``n_scores``,
        ``n_expected``, ``rank``, ``best``, ``mark`` and ``note``.
        ``n_expected`` counts the (repeat, fold) pairs of the dataset. ``rank``
        is empty unless every tested sampler is complete on the dataset.
        ``mark`` is ``"better"``, ``"worse"`` or ``""``, from the corrected
        t-test against the control after Holm's correction.
    samplers : tuple of str
        Samplers in row order: by average rank, then by name.
    datasets : tuple of str
        Datasets in column order.
    average_ranks : pandas.Series
        Average rank per sampler over the datasets every tested sampler
        completed; NaN for a sampler without such a dataset.
    design : str
        The resampling design, for example ``"2 repeats × 3 folds"``.
    statistics : StatisticsReport or None
        Every test with the reasons. None when no sampler has a score.
    nemenyi : ComparisonResult or None
        Nemenyi test of all pairs, for the critical-difference diagram.
    excluded : dict of str to str
        Samplers left out of every test, with the reason.
    failures : pandas.DataFrame
        Failed tasks of this classifier, with :data:`FAILURE_COLUMNS`.
    """

    metric: str
    classifier: str
    greater_is_better: bool
    alpha: float
    rope: float
    control: str | None
    cells: pd.DataFrame
    samplers: tuple[str, ...]
    datasets: tuple[str, ...]
    average_ranks: pd.Series
    design: str
    statistics: StatisticsReport | None
    nemenyi: ComparisonResult | None
    excluded: dict[str, str]
    failures: pd.DataFrame

    def display_table(self) -> pd.DataFrame:
        """Return the leaderboard as text: samplers by datasets, and avg rank."""
        cells = self.cells.set_index(["sampler", "dataset"])
        table = pd.DataFrame(index=pd.Index(self.samplers, name="sampler"))
        for dataset in self.datasets:
            table[dataset] = [
                "".join(cell_parts(cells.loc[(sampler, dataset)]))
                for sampler in self.samplers
            ]
        table["avg rank"] = [
            format_number(self.average_ranks.get(sampler, np.nan), 2)
            for sampler in self.samplers
        ]
        return table


def _describe_design(frame: pd.DataFrame) -> str:
    """Describe the (repeat, fold) scores behind each mean."""
    per_dataset = frame.groupby("dataset")[["repeat", "fold"]].nunique()
    if len(per_dataset.drop_duplicates()) == 1:
        repeats, folds = per_dataset.iloc[0]
        return f"{count(repeats, 'repeat')} × {count(folds, 'fold')}"
    return "the (repeat, fold) scores of each dataset"


def _failure_rows(
    failures: pd.DataFrame, selected: pd.DataFrame, metric: str
) -> pd.DataFrame:
    """Turn failed tasks into missing scores, unless the scores have that key."""
    if failures.empty:
        return selected.iloc[0:0]
    rows = failures.copy()
    for column in ("dataset", "sampler", "classifier"):
        rows[column] = rows[column].astype(str)
    present = pd.MultiIndex.from_frame(selected[_KEYS])
    rows = rows[~pd.MultiIndex.from_frame(rows[_KEYS]).isin(present)]
    first_lines = rows["error"].fillna("").astype(str).str.split("\n").str[0]
    return pd.DataFrame(
        {
            **{column: rows[column] for column in _KEYS},
            "metric": metric,
            "value": np.nan,
            "note": "task failed: " + first_lines.str.slice(0, 160),
        }
    )


def _cells(
    frame: pd.DataFrame,
    statistics: StatisticsReport | None,
    greater_is_better: bool,
) -> pd.DataFrame:
    """Build the leaderboard cells of every (dataset, sampler) of ``frame``."""
    grouped = frame.groupby(["dataset", "sampler"])["value"]
    cells = pd.DataFrame(
        {
            "mean": grouped.mean(),
            "std": grouped.std(ddof=1),
            "n_scores": grouped.count(),
        }
    )
    expected = frame.groupby("dataset")[["repeat", "fold"]].value_counts()
    n_expected = expected.groupby(level="dataset").size()
    full = pd.MultiIndex.from_product(
        [sorted(frame["dataset"].unique()), sorted(frame["sampler"].unique())],
        names=["dataset", "sampler"],
    )
    cells = cells.reindex(full)
    cells["n_scores"] = cells["n_scores"].fillna(0).astype(np.int64)
    cells["n_expected"] = n_expected.reindex(full.get_level_values("dataset")).values
    cells = cells.reset_index()
    cells["rank"] = np.nan
    cells["note"] = ""
    if statistics is not None:
        summary = statistics.summary.set_index(["dataset", "sampler"])
        keys = pd.MultiIndex.from_frame(cells[["dataset", "sampler"]])
        cells["rank"] = summary["rank"].reindex(keys).to_numpy()
        cells["note"] = summary["note"].reindex(keys).fillna("").to_numpy()

    complete = cells["n_scores"].eq(cells["n_expected"])
    means = cells["mean"].where(complete)
    by_dataset = means.groupby(cells["dataset"])
    best = by_dataset.transform("max" if greater_is_better else "min")
    cells["best"] = complete & np.isclose(means, best, rtol=0, atol=1e-12)
    cells["mark"] = ""
    if statistics is not None and not statistics.corrected_t.empty:
        tests = statistics.corrected_t
        significant = tests[tests["reject"].fillna(False).astype(bool)]
        for row in significant.itertuples(index=False):
            higher = row.mean_difference > 0
            mark = "better" if higher == greater_is_better else "worse"
            at = (cells["dataset"] == row.dataset) & (cells["sampler"] == row.sampler_a)
            cells.loc[at, "mark"] = mark
    return cells


def _build_one(
    frame: pd.DataFrame,
    metric: str,
    classifier: str,
    failures: pd.DataFrame,
    *,
    greater_is_better: bool,
    control: str | None,
    alpha: float,
    rope: float,
) -> Leaderboard:
    """Build the leaderboard of one classifier from its rows of ``metric``."""
    scored = frame.groupby("sampler")["value"].count()
    tested = sorted(scored.index[scored > 0])
    excluded = {
        sampler: f"no {metric} score for classifier {classifier}, so it is left "
        "out of every test"
        for sampler in sorted(scored.index[scored == 0])
    }
    if control is not None and control not in tested:
        present = ", ".join(tested) if tested else "none"
        raise ConfigurationError(
            f"control sampler {control!r} has no {metric} scores for classifier "
            f"{classifier!r}. Samplers with scores: {present}."
        )

    statistics = nemenyi = None
    if tested:
        statistics = build_report(
            frame[frame["sampler"].isin(tested)],
            metric,
            classifier=classifier,
            greater_is_better=greater_is_better,
            control=control,
            alpha=alpha,
            rope=rope,
            samplers=tested,
        )
        nemenyi = statistics.posthoc
        if control is not None:
            # The diagram compares all pairs, whatever the report's post-hoc test.
            matrix = dataset_matrix(
                frame[frame["sampler"].isin(tested)],
                metric,
                classifier=classifier,
                greater_is_better=greater_is_better,
                samplers=tested,
            )
            nemenyi = nemenyi_test(matrix, alpha=alpha)

    cells = _cells(frame, statistics, greater_is_better)
    ranks = pd.Series(np.nan, index=sorted(frame["sampler"].unique()), dtype=float)
    if statistics is not None:
        average = statistics.average_ranks.set_index("sampler")["average_rank"]
        ranks.update(average)
    order = sorted(ranks.index, key=lambda s: (np.isnan(ranks[s]), ranks[s], s))
    return Leaderboard(
        metric=metric,
        classifier=classifier,
        greater_is_better=greater_is_better,
        alpha=alpha,
        rope=rope,
        control=control,
        cells=cells,
        samplers=tuple(order),
        datasets=tuple(sorted(frame["dataset"].unique())),
        average_ranks=ranks,
        design=_describe_design(frame),
        statistics=statistics,
        nemenyi=nemenyi,
        excluded=excluded,
        failures=failures[failures["classifier"].astype(str) == classifier],
    )


def build_leaderboards(
    scores: pd.DataFrame,
    metric: str,
    *,
    greater_is_better: bool = True,
    control: str | None = None,
    alpha: float = 0.05,
    rope: float = 0.01,
    failures: pd.DataFrame | None = None,
) -> list[Leaderboard]:
    """Build one leaderboard with significance tests per classifier.

    Parameters
    ----------
    scores : pandas.DataFrame
        Scores table, as accepted by :func:`benchmark.statistics.validate_scores`.
    metric : str
        Metric to compare.
    greater_is_better : bool, default True
        Whether a higher score is better.
    control : str or None
        Sampler to compare every other sampler with. It enables the marks in
        the cells and the tests within each dataset, and replaces the Nemenyi
        test by Holm's comparisons of mean ranks with the control.
    alpha : float, default 0.05
        Family-wise significance level of every frequentist test.
    rope : float, default 0.01
        Region of practical equivalence of the Bayesian test, in metric units.
    failures : pandas.DataFrame or None
        Failed tasks with :data:`FAILURE_COLUMNS`, as from
        :func:`read_failures`. Each becomes a missing score with the error as
        its reason, so a failed cell is listed like any other missing score.

    Returns
    -------
    list of Leaderboard
        One per classifier with rows of ``metric``, sorted by name.

    Raises
    ------
    benchmark.errors.ConfigurationError
        If the table is invalid, ``metric`` is absent (the message lists the
        metrics present), ``control`` has no scores, or ``alpha`` or ``rope``
        is out of range.
    """
    scores = validate_scores(scores)
    check_metric(scores, metric)
    selected = scores[scores["metric"] == metric]
    if failures is not None and not failures.empty:
        extra = _failure_rows(failures, selected, metric)
        selected = validate_scores(pd.concat([selected, extra], ignore_index=True))
    else:
        failures = pd.DataFrame(columns=FAILURE_COLUMNS)
    boards = []
    for classifier, frame in selected.groupby("classifier", sort=True):
        boards.append(
            _build_one(
                frame,
                metric,
                str(classifier),
                failures,
                greater_is_better=greater_is_better,
                control=control,
                alpha=alpha,
                rope=rope,
            )
        )
    return boards


LEAKY_PROTOCOL_NOTICE = (
    "WARNING: protocol 'paper': features were selected by mutual information on "
    "the whole dataset before the split, which leaks the test labels into "
    "feature selection. Use these numbers only to compare with published "
    "results."
)


def protocol_notice(source: str | Path) -> str | None:
    """Return the leakage warning when ``source`` is a run of protocol 'paper'."""
    run_dir = _run_directory(Path(source))
    if run_dir is None or not (run_dir / "run.json").exists():
        return None
    manifest = json.loads((run_dir / "run.json").read_text())
    if manifest.get("config", {}).get("protocol") == "paper":
        return LEAKY_PROTOCOL_NOTICE
    return None


def _write_atomically(path: Path, text: str) -> None:
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(text)
    temporary.replace(path)


def _pick_metric(scores: pd.DataFrame, registry: Registry) -> tuple[str, bool]:
    metrics: Sequence[str] = sorted(set(scores["metric"]))
    metric = DEFAULT_METRIC if DEFAULT_METRIC in metrics else metrics[0]
    spec = registry.metrics.get(metric)
    return metric, spec.greater_is_better if spec is not None else True


def write_outputs(
    run_dir: Path, store: ResultStore, keys: Iterable[str], registry: Registry
) -> None:
    """Write ``scores.csv``, ``failures.csv``, ``failures.log`` and the leaderboard.

    ``leaderboard.txt`` and ``leaderboard.md`` hold the leaderboard of the
    primary metric (auc when present) per classifier with the summary of the
    tests across datasets. ``bench report`` gives the pairwise tests, the
    tests within each dataset and the methods.
    """
    keys = list(keys)
    scores = store.scores_frame(keys)
    # Written under another name first, so an interrupted export never leaves
    # a truncated scores.csv behind.
    _write_atomically(run_dir / "scores.csv", scores.to_csv(index=False))

    tasks = store.tasks_frame(keys)
    failed = tasks[tasks["status"] != "ok"]
    columns = ["dataset", "sampler", "classifier", "repeat", "fold", "seed", "error"]
    failed[columns].to_csv(run_dir / "failures.csv", index=False)
    with open(run_dir / "failures.log", "w") as log:
        for row in failed.itertuples():
            log.write(
                f"=== dataset={row.dataset} sampler={row.sampler} "
                f"classifier={row.classifier} repeat={row.repeat} fold={row.fold} "
                f"seed={row.seed}\n{row.traceback}\n"
            )

    if scores.empty:
        for name in ("leaderboard.txt", "leaderboard.md"):
            (run_dir / name).write_text("no task finished\n")
        return
    metric, greater = _pick_metric(scores, registry)
    boards = build_leaderboards(
        scores,
        metric,
        greater_is_better=greater,
        failures=failed[FAILURE_COLUMNS],
    )
    notice = protocol_notice(run_dir)
    for name, fmt in (("leaderboard.txt", "terminal"), ("leaderboard.md", "markdown")):
        text = render_report(boards, fmt, detail="summary", source=run_dir)
        if notice:
            text = f"{notice}\n\n{text}"
        _write_atomically(run_dir / name, text)
