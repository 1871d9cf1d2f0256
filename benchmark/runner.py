"""Run the tasks of a benchmark in parallel and record every result.

The stages of :func:`run_benchmark`:

1. check that every selected dataset's files exist, before anything loads;
2. load and check the datasets (class sizes against folds and samplers);
3. build the task grid and skip tasks the run directory already holds;
4. select features once per split, shared by every sampler and classifier;
5. run the remaining tasks with joblib, storing each result on arrival;
6. export ``scores.csv``, ``failures.csv``, ``run.json`` and the leaderboard.
"""

from __future__ import annotations

import json
import logging
import platform
import sys
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
from joblib import Parallel, delayed
from tqdm.auto import tqdm

from benchmark.components import Dataset
from benchmark.errors import DatasetError
from benchmark.evaluation import TaskResult, execute_task, fold_selection, load_dataset
from benchmark.plugins import Registry
from benchmark.store import ResultStore
from benchmark.tasks import RunConfig, Task, build_tasks, check_datasets, check_samplers

__all__ = ["RunSummary", "package_versions", "run_benchmark"]

logger = logging.getLogger(__name__)

VERSIONED_PACKAGES = (
    "oversampling-bench",
    "numpy",
    "scipy",
    "pandas",
    "scikit-learn",
    "imbalanced-learn",
    "torch",
    "pluggy",
    "joblib",
)


@dataclass
class RunSummary:
    """What a finished run did, for the command line to print."""

    run_dir: Path
    total: int
    skipped: int
    finished: int
    failed: list[TaskResult] = field(default_factory=list)
    noted: list[TaskResult] = field(default_factory=list)
    seconds: float = 0.0


def package_versions() -> dict[str, str]:
    """Return the installed versions of the packages that decide results."""
    versions = {"python": platform.python_version()}
    for name in VERSIONED_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def check_files(registry: Registry, names: list[str], data_dir: Path) -> None:
    """Raise one error listing every selected dataset whose files are missing."""
    problems = []
    for name in names:
        spec = registry.dataset(name)
        if spec.missing_files is None:
            continue
        missing = spec.missing_files(data_dir)
        if missing:
            problems.append(
                f"  {name}: missing {', '.join(missing)} in {data_dir / name}"
            )
    if problems:
        raise DatasetError(
            "data files not found:\n"
            + "\n".join(problems)
            + f"\nSee {data_dir / 'README.md'} and the README.md in each dataset "
            "folder for what to download and where to put it, or point --data-dir "
            "(or BENCH_DATA_DIR) at the directory that holds the dataset folders."
        )


def _load_datasets(names: list[str], config: RunConfig) -> dict[str, Dataset]:
    datasets = {}
    for name in names:
        logger.info("loading dataset %s", name)
        datasets[name] = load_dataset(name, str(config.data_dir))
    return datasets


def _write_json(path: Path, content: dict[str, Any]) -> None:
    temporary = path.with_suffix(".json.tmp")
    temporary.write_text(json.dumps(content, indent=2, default=str) + "\n")
    temporary.replace(path)


def _manifest(
    config: RunConfig,
    registry: Registry,
    datasets: dict[str, Dataset],
    n_jobs: int,
    threads: int,
) -> dict[str, Any]:
    return {
        "config": config.to_json(),
        "n_jobs": n_jobs,
        "threads_per_task": threads,
        "command": sys.argv,
        "host": {"platform": platform.platform(), "machine": platform.machine()},
        "versions": package_versions(),
        "plugins": [
            {"name": p.name, "package": p.package, "version": p.version}
            for p in registry.plugins
        ],
        "plugin_failures": [
            {"name": f.name, "reason": f.reason} for f in registry.failures
        ],
        "datasets": {
            name: {
                "shape": list(d.X.shape),
                "classes": dict(d.class_counts),
                "positive": d.class_names[d.positive] if d.task == "binary" else None,
                "provenance": dict(d.provenance),
            }
            for name, d in datasets.items()
        },
    }


def _selections(
    tasks: list[Task],
    datasets: dict[str, Dataset],
    config: RunConfig,
    run_dir: Path,
    n_jobs: int,
) -> dict[tuple[str, int, int], np.ndarray]:
    """Select features for every split the pending tasks use, caching to disk."""
    cache_path = run_dir / "selected_features.json"
    cache: dict[str, list[int]] = {}
    if cache_path.exists():
        cache = json.loads(cache_path.read_text())

    needed = sorted({(t.dataset, t.repeat, t.fold) for t in tasks})
    missing = [split for split in needed if "/".join(map(str, split)) not in cache]
    if missing:
        logger.info("selecting features for %d split(s)", len(missing))
        computed = Parallel(n_jobs=n_jobs)(
            delayed(fold_selection)(datasets[name], config, repeat, fold)
            for name, repeat, fold in missing
        )
        for split, columns in zip(missing, computed, strict=False):
            cache["/".join(map(str, split))] = [int(c) for c in columns]
        _write_json(cache_path, cache)

    return {
        split: np.asarray(cache["/".join(map(str, split))], dtype=int)
        for split in needed
    }


def run_benchmark(
    config: RunConfig,
    registry: Registry,
    run_dir: Path,
    *,
    n_jobs: int = 1,
    threads: int = 1,
    retry_failed: bool = False,
    show_progress: bool = True,
) -> RunSummary:
    """Run every pending task of ``config`` and write the run directory.

    Tasks already stored as finished in ``run_dir`` are skipped; tasks stored
    as failed are skipped too unless ``retry_failed`` is true.
    """
    started = time.perf_counter()
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)

    names = list(config.datasets)
    check_files(registry, names, config.data_dir)
    datasets = _load_datasets(names, config)
    check_datasets(datasets, config)
    check_samplers(datasets, config, registry)

    versions = package_versions()
    tasks = build_tasks(config, names, versions=json.dumps(versions, sort_keys=True))
    manifest = _manifest(config, registry, datasets, n_jobs, threads)
    _write_json(run_dir / "run.json", {**manifest, "status": "running"})

    with ResultStore(run_dir / "results.sqlite") as store:
        done = store.keys("ok") | (set() if retry_failed else store.keys("failed"))
        pending = [task for task in tasks if task.key not in done]
        summary = RunSummary(run_dir, len(tasks), len(tasks) - len(pending), 0)
        if summary.skipped:
            logger.info("skipping %d task(s) already in %s", summary.skipped, run_dir)

        columns = _selections(pending, datasets, config, run_dir, n_jobs)
        _execute(pending, columns, store, summary, n_jobs, threads, show_progress)

        keys = [task.key for task in tasks]
        from benchmark.report import write_outputs

        write_outputs(run_dir, store, keys, registry)

    summary.seconds = time.perf_counter() - started
    _write_json(
        run_dir / "run.json",
        {
            **manifest,
            "status": "finished",
            "tasks": {
                "total": summary.total,
                "run": len(pending),
                "skipped": summary.skipped,
                "failed": len(summary.failed),
            },
            "seconds": round(summary.seconds, 1),
        },
    )
    registry.manager.hook.bench_run_finished(run_dir=run_dir)
    return summary


def _execute(
    pending: list[Task],
    columns: dict[tuple[str, int, int], np.ndarray],
    store: ResultStore,
    summary: RunSummary,
    n_jobs: int,
    threads: int,
    show_progress: bool,
) -> None:
    if not pending:
        return
    calls = (
        delayed(execute_task)(
            task, columns[(task.dataset, task.repeat, task.fold)], threads=threads
        )
        for task in pending
    )
    results = Parallel(n_jobs=n_jobs, return_as="generator_unordered")(calls)
    bar = tqdm(
        total=len(pending),
        desc="tasks",
        unit="task",
        disable=not show_progress,
        dynamic_ncols=True,
    )
    with bar:
        for result in results:
            store.record(result)
            summary.finished += 1
            if result.status != "ok":
                summary.failed.append(result)
                logger.warning(
                    "failed: dataset=%s sampler=%s classifier=%s repeat=%d fold=%d: %s",
                    result.dataset,
                    result.sampler,
                    result.classifier,
                    result.repeat,
                    result.fold,
                    result.error,
                )
            else:
                if result.notes:
                    summary.noted.append(result)
                logger.info(
                    "done: dataset=%s sampler=%s classifier=%s repeat=%d fold=%d "
                    "in %.1fs",
                    result.dataset,
                    result.sampler,
                    result.classifier,
                    result.repeat,
                    result.fold,
                    result.duration,
                )
            bar.set_postfix_str(
                f"failed={len(summary.failed)} last={result.dataset}/{result.sampler}",
                refresh=False,
            )
            bar.update()
