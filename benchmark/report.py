"""Turn stored scores into the files of a run directory and into leaderboards.

A leaderboard has one row per sampler and one column per dataset, holding the
mean ± standard deviation of a metric over all repeats and folds, followed by
the sampler's average rank across datasets (rank 1 is best; ties share the
average rank). One leaderboard is made per classifier.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd
from tabulate import tabulate

from benchmark.errors import ConfigurationError
from benchmark.plugins import Registry
from benchmark.store import SCORE_COLUMNS, ResultStore

__all__ = [
    "leaderboard",
    "load_scores",
    "render_leaderboards",
    "write_outputs",
]

DEFAULT_METRIC = "auc"


def load_scores(source: Path) -> pd.DataFrame:
    """Read ``scores.csv`` from a run directory, or any tidy CSV file.

    Raises
    ------
    ConfigurationError
        When the path does not exist or the table lacks a required column.
    """
    source = Path(source)
    path = source / "scores.csv" if source.is_dir() else source
    if not path.exists():
        raise ConfigurationError(
            f"no scores found at {path}. Pass a run directory written by "
            "`bench run` or a CSV file with the columns " + ", ".join(SCORE_COLUMNS)
        )
    frame = pd.read_csv(path)
    missing = [c for c in SCORE_COLUMNS if c not in frame.columns]
    if missing:
        raise ConfigurationError(
            f"{path} lacks the column(s) {', '.join(missing)}; a score table needs "
            f"the columns {', '.join(SCORE_COLUMNS)}."
        )
    return frame


def _format_cell(mean: float, std: float, count: int, expected: int) -> str:
    if count == 0 or np.isnan(mean):
        return "-"
    text = f"{mean:.3f} ± {std:.3f}"
    if count < expected:
        text += f" [{count}/{expected}]"
    return text


def leaderboard(
    scores: pd.DataFrame, metric: str, greater_is_better: bool = True
) -> dict[str, pd.DataFrame]:
    """Return one leaderboard table per classifier for ``metric``.

    Cells with fewer scores than the most complete sampler on that dataset
    are marked ``[count/expected]``; missing values (metric undefined on a
    fold, or a failed task) are left out of means and ranks.
    """
    available = sorted(scores["metric"].unique())
    if metric not in available:
        raise ConfigurationError(
            f"metric {metric!r} is not in these scores; metrics present: "
            f"{', '.join(available)}."
        )
    selected = scores[scores["metric"] == metric]

    tables = {}
    for classifier, group in selected.groupby("classifier", sort=True):
        stats = (
            group.groupby(["sampler", "dataset"])["value"]
            .agg(["mean", "std", "count"])
            .reset_index()
        )
        stats["std"] = stats["std"].fillna(0.0)
        expected = stats.groupby("dataset")["count"].transform("max")
        stats["cell"] = [
            _format_cell(m, s, c, e)
            for m, s, c, e in zip(
                stats["mean"], stats["std"], stats["count"], expected, strict=False
            )
        ]
        means = stats.pivot(index="sampler", columns="dataset", values="mean")
        ranks = means.rank(ascending=not greater_is_better, method="average")

        table = stats.pivot(index="sampler", columns="dataset", values="cell")
        table = table.fillna("-")
        table["avg rank"] = ranks.mean(axis=1).round(2)
        tables[str(classifier)] = table.sort_values("avg rank")
    return tables


def render_leaderboards(
    tables: dict[str, pd.DataFrame], metric: str, fmt: str = "simple"
) -> str:
    """Render leaderboards with tabulate (``fmt`` is a tabulate table format)."""
    parts = []
    for classifier, table in tables.items():
        title = f"{metric} by sampler (classifier: {classifier}); mean ± std over folds"
        body = tabulate(
            table.reset_index(), headers="keys", tablefmt=fmt, showindex=False
        )
        parts.append(f"{title}\n{body}")
    return "\n\n".join(parts)


def write_outputs(
    run_dir: Path, store: ResultStore, keys: Iterable[str], registry: Registry
) -> None:
    """Write ``scores.csv``, ``failures.csv``, ``failures.log`` and the leaderboard."""
    keys = list(keys)
    scores = store.scores_frame(keys)
    scores.to_csv(run_dir / "scores.csv", index=False)

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
        (run_dir / "leaderboard.txt").write_text("no task finished\n")
        return
    metric = DEFAULT_METRIC if DEFAULT_METRIC in set(scores["metric"]) else None
    metric = metric or str(scores["metric"].iloc[0])
    spec = registry.metrics.get(metric)
    greater = spec.greater_is_better if spec is not None else True
    tables = leaderboard(scores, metric, greater)
    (run_dir / "leaderboard.txt").write_text(render_leaderboards(tables, metric) + "\n")
    (run_dir / "leaderboard.md").write_text(
        render_leaderboards(tables, metric, "github") + "\n"
    )
