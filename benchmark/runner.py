"""Run the tasks of a benchmark in parallel and record every result.

The stages of :func:`run_benchmark`:

1. check that every selected dataset's files exist, before anything loads;
2. load and check the datasets (class sizes against folds and samplers);
3. build the task grid and skip tasks the run directory already holds;
4. select features once per split, shared by every sampler and classifier;
5. run the remaining tasks on a backend (local worker processes, this process,
   or a dask cluster), storing each result on arrival;
6. export ``scores.csv``, ``failures.csv``, ``run.json`` and the leaderboard.

Step 6 also runs when the run is interrupted (Ctrl-C, SIGTERM or SIGHUP) or
fails, so the exported files always match the stored results. ``run.json``
then has the status ``interrupted``. Only SIGKILL of the main process skips
it; the next run on the same directory resumes and exports. A lock on
``run.lock`` keeps a second run from writing into the same directory.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import platform
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from benchmark.components import Dataset
from benchmark.errors import ConfigurationError, DatasetError
from benchmark.evaluation import TaskResult, fold_selection, load_dataset
from benchmark.plugins import Registry
from benchmark.progress import RunProgress
from benchmark.scheduling import (
    CPU,
    Dispatched,
    ExecutionOptions,
    Placement,
    Requeued,
    discover_devices,
    task_wants_gpu,
)
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
    """Counts and failures of a finished run, for the command line to print."""

    run_dir: Path
    total: int
    skipped: int
    finished: int
    failed: list[TaskResult] = field(default_factory=list)
    noted: list[TaskResult] = field(default_factory=list)
    retried: int = 0
    seconds: float = 0.0
    # Of the skipped tasks, those that failed in an earlier run.
    skipped_failed: int = 0


def package_versions() -> dict[str, str]:
    """Return the installed versions of the packages that decide results."""
    versions = {"python": platform.python_version()}
    for name in VERSIONED_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


# Settings that decide the splits and the features of every task. A run
# directory contains the results of one such design. Samplers, classifiers and
# datasets may be added to it later.
DESIGN_FIELDS = ("folds", "repeats", "seed", "n_features", "protocol")


def check_same_design(run_dir: Path, config: RunConfig) -> None:
    """Raise when ``run_dir`` contains a run whose splits or protocol differ."""
    manifest_path = run_dir / "run.json"
    if not manifest_path.exists():
        return
    try:
        earlier = json.loads(manifest_path.read_text()).get("config", {})
    except (OSError, ValueError):
        return
    current = config.to_json()
    changed = [
        f"{field} {earlier[field]!r} -> {current[field]!r}"
        for field in DESIGN_FIELDS
        if field in earlier and earlier[field] != current[field]
    ]
    if changed:
        raise ConfigurationError(
            f"run directory {run_dir} holds a run with other settings "
            f"({'; '.join(changed)}); resuming it would mix results from different "
            "splits. Use another --output, or repeat the earlier settings to "
            "resume it."
        )


def check_parameters(config: RunConfig, registry: Registry) -> None:
    """Build each sampler and classifier the user set parameters for, up front.

    scikit-learn style estimators also validate their parameter values here;
    other estimators are only constructed.
    """
    for kind, choices, lookup in (
        ("sampler", config.samplers, registry.sampler),
        ("classifier", config.classifiers, registry.classifier),
    ):
        for choice in choices:
            # Only parameters the user set can be wrong; building every
            # component would also import torch for nothing on a resume.
            if not choice.params:
                continue
            spec = lookup(choice.name)
            params = {**spec.params, **choice.params}
            try:
                estimator = spec.factory(random_state=0, **params)
                if hasattr(estimator, "_parameter_constraints"):
                    estimator._validate_params()
            except Exception as exc:  # noqa: BLE001 - reported with the parameters
                raise ConfigurationError(
                    f"{kind} {choice.label!r} cannot be built with parameters "
                    f"{params}: {exc}. Check the parameter names and values, for "
                    f"example with `bench list {kind}s` and the {kind}'s "
                    "documentation."
                ) from exc


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
    execution: ExecutionOptions,
) -> dict[str, Any]:
    return {
        "config": config.to_json(),
        "n_jobs": execution.n_jobs,
        "threads_per_task": execution.threads_per_task,
        "execution": asdict(execution),
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


def select_split(name: str, config: RunConfig, repeat: int, fold: int) -> np.ndarray:
    """Select the features of one split, in whichever process runs it."""
    dataset = load_dataset(name, str(config.data_dir))
    return fold_selection(dataset, config, repeat, fold)


def _selections(
    tasks: list[Task],
    config: RunConfig,
    run_dir: Path,
    map_calls: MapCalls,
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
        computed = map_calls(
            select_split,
            [(name, config, repeat, fold) for name, repeat, fold in missing],
        )
        for split, columns in zip(missing, computed, strict=True):
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
    execution: ExecutionOptions | None = None,
    retry_failed: bool = False,
    show_progress: bool = True,
) -> RunSummary:
    """Run every pending task of ``config`` and write the run directory.

    Tasks already stored as finished in ``run_dir`` are skipped; tasks stored
    as failed are skipped too unless ``retry_failed`` is true. ``execution``
    selects where tasks run; the default is one local worker process.

    Raises
    ------
    ConfigurationError
        When another run holds the lock on ``run_dir``.
    KeyboardInterrupt
        On Ctrl-C, SIGTERM or SIGHUP, after the run directory was exported.
    """
    execution = execution or ExecutionOptions()
    started = time.perf_counter()
    run_dir = Path(run_dir)
    check_same_design(run_dir, config)
    run_dir.mkdir(parents=True, exist_ok=True)

    names = list(config.datasets)
    check_parameters(config, registry)
    check_files(registry, names, config.data_dir)
    datasets = _load_datasets(names, config)
    check_datasets(datasets, config)
    check_samplers(datasets, config, registry)

    versions = package_versions()
    tasks = build_tasks(config, names, versions=json.dumps(versions, sort_keys=True))
    manifest = _manifest(config, registry, datasets, execution)

    with _run_lock(run_dir), ResultStore(run_dir / "results.sqlite") as store:
        _write_json(run_dir / "run.json", {**manifest, "status": "running"})
        lost = store.mark_lost_attempts()
        if lost:
            logger.info(
                "%d task(s) were running when the previous run in %s stopped; "
                "they run again",
                lost,
                run_dir,
            )
        done = store.keys("ok") | (set() if retry_failed else store.keys("failed"))
        pending = [task for task in tasks if task.key not in done]
        summary = RunSummary(run_dir, len(tasks), len(tasks) - len(pending), 0)
        if not retry_failed:
            earlier_failures = store.keys("failed")
            summary.skipped_failed = sum(t.key in earlier_failures for t in tasks)
        if summary.skipped:
            logger.info("skipping %d task(s) already in %s", summary.skipped, run_dir)

        status = "interrupted"
        try:
            with _termination_as_interrupt():
                _execute(
                    pending, config, store, summary, execution, registry, show_progress
                )
            status = "finished"
        finally:
            summary.seconds = time.perf_counter() - started
            _export(run_dir, store, tasks, registry, manifest, summary, status)

    _notify_run_finished(registry, run_dir)
    return summary


def _notify_run_finished(registry: Registry, run_dir: Path) -> None:
    """Call every plugin's bench_run_finished; one failing plugin stops none."""
    hook = registry.manager.hook.bench_run_finished
    for impl in hook.get_hookimpls():
        plugin = registry.manager.get_name(impl.plugin) or repr(impl.plugin)
        try:
            impl.function(run_dir=run_dir)
        except Exception as exc:  # noqa: BLE001 - results are already saved
            logger.error(
                "plugin %s: bench_run_finished raised %r; the run's results are "
                "saved in %s",
                plugin,
                exc,
                run_dir,
            )


def _export(
    run_dir: Path,
    store: ResultStore,
    tasks: list[Task],
    registry: Registry,
    manifest: dict[str, Any],
    summary: RunSummary,
    status: str,
) -> None:
    """Write the exported files and ``run.json``, with Ctrl-C held back meanwhile."""
    from benchmark.report import write_outputs

    with _signals_deferred():
        lost = store.mark_lost_attempts()
        if lost:
            logger.info("%d task(s) were still running when the run stopped", lost)
        try:
            write_outputs(run_dir, store, [task.key for task in tasks], registry)
        except Exception:
            if status == "finished":
                raise
            # The run is already ending with an error; do not hide it.
            logger.exception("exporting the results of %s failed", run_dir)
        _write_json(
            run_dir / "run.json",
            {
                **manifest,
                "status": status,
                "tasks": {
                    "total": summary.total,
                    "run": summary.finished,
                    "skipped": summary.skipped,
                    "failed": len(summary.failed),
                    "retried": summary.retried,
                },
                "seconds": round(summary.seconds, 1),
            },
        )


@contextlib.contextmanager
def _run_lock(run_dir: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``run_dir/run.lock`` for the length of a run.

    The operating system releases the lock when the process ends, even on
    SIGKILL, so a lock file left behind by a killed run does not block a
    resume.
    """
    try:
        import fcntl
    except ImportError:  # Windows has no fcntl; runs there are not locked.
        yield
        return
    path = run_dir / "run.lock"
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            raise ConfigurationError(
                f"run directory {run_dir} is in use by another bench run (process "
                f"{holder}). Wait for it to finish, or choose another --output."
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


TERMINATION_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name)
)


@contextlib.contextmanager
def _termination_as_interrupt() -> Iterator[None]:
    """Turn SIGTERM and SIGHUP into KeyboardInterrupt, as Ctrl-C is.

    Signal handlers can only be set in the main thread; elsewhere this does
    nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(f"received {signal.Signals(signum).name}")

    previous = {
        number: signal.signal(number, interrupt) for number in TERMINATION_SIGNALS
    }
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


@contextlib.contextmanager
def _signals_deferred() -> Iterator[None]:
    """Hold back Ctrl-C and termination signals until the block ends.

    A signal that arrives meanwhile raises KeyboardInterrupt when the block
    ends. The handlers are replaced rather than the signals blocked, because
    a blocked signal would go to another thread (dask's, tqdm's) and still
    interrupt the main thread.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []

    def remember(signum: int, frame: object) -> None:
        received.append(signum)

    deferred = (signal.SIGINT, *TERMINATION_SIGNALS)
    previous = {number: signal.signal(number, remember) for number in deferred}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
    if received:
        name = signal.Signals(received[0]).name
        raise KeyboardInterrupt(f"received {name} while exporting")


def _execute(
    pending: list[Task],
    config: RunConfig,
    store: ResultStore,
    summary: RunSummary,
    execution: ExecutionOptions,
    registry: Registry,
    show_progress: bool,
) -> None:
    """Select features and run the pending tasks, storing each result on arrival."""
    if not pending:
        return

    def wants_gpu(task: Task) -> bool:
        return task_wants_gpu(task, registry)

    with _backend(pending, execution, wants_gpu) as (map_calls, run_tasks):
        columns = _selections(pending, config, summary.run_dir, map_calls)
        events = run_tasks(columns)
        attempts: dict[str, int] = {}
        with (
            contextlib.closing(events),
            RunProgress(len(pending), show_progress) as bar,
        ):
            for event in events:
                key = event.task.key
                if isinstance(event, Dispatched):
                    attempts[key] = store.start_attempt(key, event.device, event.worker)
                elif isinstance(event, Requeued):
                    store.end_attempt(attempts.pop(key), event.outcome)
                    summary.retried += 1
                    bar.task_retried(event.reason, event.task.describe())
                else:
                    result = event.result
                    store.record(result, attempts.pop(key, None), event.outcome)
                    summary.finished += 1
                    if result.status != "ok":
                        summary.failed.append(result)
                    elif result.notes:
                        summary.noted.append(result)
                    bar.task_finished(result)


Columns = dict[tuple[str, int, int], np.ndarray]
MapCalls = Callable[[Callable[..., Any], list[tuple]], list[Any]]
RunTasks = Callable[[Columns], Iterator[Any]]


@contextlib.contextmanager
def _backend(
    pending: list[Task],
    execution: ExecutionOptions,
    wants_gpu: Callable[[Task], bool],
) -> Iterator[tuple[MapCalls, RunTasks]]:
    """Start the backend that ``execution`` names and yield its two entry points.

    ``map_calls(function, calls)`` computes ``function(*args)`` for each
    ``args`` (feature selection); ``run_tasks(columns)`` runs the pending tasks
    and returns the stream of events. Leaving the block stops the workers.
    """
    if execution.backend == "dask":
        from benchmark.dask_backend import DaskBackend

        with DaskBackend(execution, package_versions) as dask:
            yield dask.map, lambda columns: dask.run(pending, wants_gpu, columns)
        return

    from benchmark.workers import LocalPool, run_inline

    if execution.backend == "inline":
        placement = Placement(pending, wants_gpu, (), 1, 1)

        def map_inline(function: Callable[..., Any], calls: list[tuple]) -> list:
            return [function(*args) for args in calls]

        yield map_inline, lambda columns: run_inline(placement, columns, execution)
        return

    devices = _devices(pending, execution, wants_gpu)
    placement = Placement(
        pending, wants_gpu, devices, execution.n_jobs, execution.gpu_jobs_per_device
    )
    gpu_slots = sum(slot != CPU for slot in placement.slots)
    logger.info(
        "running %d task(s) on %d CPU worker(s)%s",
        len(pending),
        placement.slots.count(CPU),
        f" and {gpu_slots} GPU worker(s) on {', '.join(devices)}" if gpu_slots else "",
    )
    with LocalPool(placement.slots, execution) as pool:
        yield pool.map, lambda columns: pool.run(placement, columns)


def _devices(
    pending: list[Task], execution: ExecutionOptions, wants_gpu: Callable[[Task], bool]
) -> tuple[str, ...]:
    if execution.devices is not None:
        return execution.devices
    if not any(wants_gpu(task) for task in pending):
        return ()
    devices = discover_devices()
    logger.info("GPUs found: %s", ", ".join(devices) or "none")
    return devices
