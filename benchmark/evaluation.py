"""Run one task: select features, scale, resample and fit inside a training fold.

The test fold is never resampled and no fitted step uses it. The order of the
steps depends on the protocol:

``default``
    Mutual-information selection on the training fold, then scaling fitted on
    the training fold, then resampling, then the classifier.
``paper``
    Mutual-information selection once on the whole dataset (this leaks the
    test labels into feature selection and is kept only to reproduce
    published numbers), resampling on unscaled features, then scaling fitted
    on the resampled training data, then the classifier.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import logging
import os
import signal
import socket
import threading
import time
import traceback
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from imblearn.utils import check_sampling_strategy
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from benchmark.components import Dataset
from benchmark.errors import (
    BenchError,
    DatasetError,
    SamplerOutputError,
    UndefinedMetricError,
)
from benchmark.plugins import Registry, load_registry
from benchmark.selection import select_features
from benchmark.tasks import RunConfig, Task, derive_seed, iter_splits

__all__ = [
    "TaskResult",
    "TaskTimeout",
    "execute_task",
    "load_dataset",
    "select_features",
]

logger = logging.getLogger(__name__)


@dataclass
class TaskResult:
    """The outcome of one task as a worker returns it, success or failure."""

    key: str
    dataset: str
    sampler: str
    classifier: str
    repeat: int
    fold: int
    seed: int
    status: str
    scores: list[tuple[str, float | None, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    error: str = ""
    traceback: str = ""
    duration: float = 0.0
    device: str = "cpu"
    n_train: int = 0
    n_resampled: int = 0
    worker: str = ""


@functools.lru_cache(maxsize=1)
def worker_registry() -> Registry:
    """Load the plugins once per process."""
    return load_registry()


@functools.lru_cache(maxsize=8)
def load_dataset(name: str, data_dir: str) -> Dataset:
    """Load a dataset once per process and check what the plugin returned.

    Loaders should build datasets with :meth:`Dataset.from_frame`, which
    validates them. A dataset built another way is validated here, so bad
    values fail before any task instead of inside every task.
    """
    registry = worker_registry()
    plugin = registry.owner("datasets", name)
    try:
        dataset = registry.dataset(name).loader(Path(data_dir))
    except BenchError:
        raise
    except Exception as exc:
        raise DatasetError(
            f"loading dataset {name!r} (plugin {plugin!r}) failed: {exc!r}. The "
            "plugin's loader raised it; check the dataset's files and the plugin."
        ) from exc
    if not isinstance(dataset, Dataset):
        raise DatasetError(
            f"the loader of dataset {name!r} (plugin {plugin!r}) returned "
            f"{type(dataset).__name__}, not a benchmark.Dataset; build it with "
            "Dataset.from_frame(name, X, y)."
        )
    # Results are stored under the registered name, whatever the loader set.
    return replace(dataset, name=name).validated()


def _split(
    dataset: Dataset, config: RunConfig, repeat: int, fold: int
) -> tuple[np.ndarray, np.ndarray]:
    splits = _splits(
        dataset.name, str(config.data_dir), config.folds, config.repeats, config.seed
    )
    return splits[(repeat, fold)]


@functools.lru_cache(maxsize=8)
def _splits(name: str, data_dir: str, folds: int, repeats: int, seed: int) -> dict:
    dataset = load_dataset(name, data_dir)
    return {
        (repeat, fold): (train, test)
        for repeat, fold, train, test in iter_splits(dataset, folds, repeats, seed)
    }


def fold_selection(
    dataset: Dataset, config: RunConfig, repeat: int, fold: int
) -> np.ndarray:
    """Select features for one split (or the whole dataset under ``paper``)."""
    X = dataset.X.to_numpy()
    if config.protocol == "paper":
        seed = derive_seed(config.seed, "selection", dataset.name, "all")
        return select_features(X, dataset.y, config.n_features, seed)
    train, _ = _split(dataset, config, repeat, fold)
    seed = derive_seed(config.seed, "selection", dataset.name, repeat, fold)
    return select_features(X[train], dataset.y[train], config.n_features, seed)


class TaskTimeout(BaseException):
    """Raised inside a task when it runs past its time limit.

    It derives from BaseException so that a plugin's ``except Exception``
    cannot swallow it.
    """


def execute_task(
    task: Task,
    columns: np.ndarray,
    *,
    device: str = "cpu",
    threads: int = 1,
    timeout: float | None = None,
) -> TaskResult:
    """Run one task and return its scores, or the failure with its reason.

    ``threads`` caps BLAS and torch threads for the task. The default of one
    thread makes results bit-identical whatever the number of parallel
    workers, because multi-threaded reductions may add in another order.
    ``device`` is passed to every component that can use a GPU, unless the
    user set that component's ``device`` parameter. ``timeout`` (seconds) ends
    the task with a failure "timed out after N s"; see :func:`_time_limit` for
    how. Exceptions from plugins are caught and recorded: one failing fold
    never stops a run.
    """
    result = TaskResult(
        key=task.key,
        dataset=task.dataset,
        sampler=task.sampler.label,
        classifier=task.classifier.label,
        repeat=task.repeat,
        fold=task.fold,
        seed=task.seed,
        status="ok",
        device=device,
        worker=f"{socket.gethostname()}:{os.getpid()}",
    )
    started = time.perf_counter()
    try:
        import torch

        torch.set_num_threads(threads)
        with threadpool_limits(limits=threads), _time_limit(timeout):
            _run(task, columns, device, result)
    except TaskTimeout:
        result.status = "failed"
        result.error = f"TaskTimeout: timed out after {timeout:g} s"
        result.traceback = traceback.format_exc()
        result.scores = []
    except Exception as exc:  # noqa: BLE001 - recorded with its traceback
        result.status = "failed"
        result.error = f"{type(exc).__name__}: {exc}"
        result.traceback = traceback.format_exc()
        result.scores = []
    result.duration = time.perf_counter() - started
    return result


@contextlib.contextmanager
def _time_limit(seconds: float | None) -> Iterator[None]:
    """Raise :class:`TaskTimeout` in the calling thread after ``seconds``.

    In the main thread of a process (the local worker processes) a SIGALRM
    timer raises it. In other threads (dask worker threads) a timer thread
    injects it with ``PyThreadState_SetAsyncExc``, which needs CPython. Either
    way the exception arrives between two Python bytecodes, so a task stuck
    inside one long C call is only stopped when that call returns. For that
    case the parent process enforces a hard limit.
    """
    if seconds is None:
        yield
        return
    if threading.current_thread() is threading.main_thread() and hasattr(
        signal, "setitimer"
    ):
        with _alarm(seconds):
            yield
    else:
        with _thread_alarm(seconds):
            yield


@contextlib.contextmanager
def _alarm(seconds: float) -> Iterator[None]:
    def expire(signum: int, frame: object) -> None:
        raise TaskTimeout()

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@contextlib.contextmanager
def _thread_alarm(seconds: float) -> Iterator[None]:
    target = threading.get_ident()
    lock = threading.Lock()
    armed = [True]

    def expire() -> None:
        with lock:
            if armed[0]:
                ctypes.pythonapi.PyThreadState_SetAsyncExc(
                    ctypes.c_ulong(target), ctypes.py_object(TaskTimeout)
                )

    timer = threading.Timer(seconds, expire)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        # After disarming, the timer can no longer inject the exception, so it
        # cannot reach code outside the task. One injected just before is
        # raised here at the latest, inside the caller's try block.
        with lock:
            armed[0] = False
        timer.cancel()


def _with_device(spec: Any, params: Mapping[str, Any], device: str) -> dict:
    params = {**spec.params, **params}
    if spec.can_use_gpu and "device" not in params:
        params["device"] = device
    return params


def _devices_used(*settings: tuple[Any, dict]) -> str:
    """Return the devices of the GPU-capable components, or ``"cpu"`` if none.

    A user's explicit ``device`` parameter wins over the scheduler's choice,
    so the recorded device comes from the parameters each component got.
    """
    used = sorted(
        {str(params["device"]) for spec, params in settings if spec.can_use_gpu}
    )
    return ",".join(used) or "cpu"


def _run(task: Task, columns: np.ndarray, device: str, result: TaskResult) -> None:
    registry = worker_registry()
    config = task.config
    dataset = load_dataset(task.dataset, str(config.data_dir))
    train, test = _split(dataset, config, task.repeat, task.fold)
    X = dataset.X.to_numpy()[:, columns]
    X_train, y_train = X[train], dataset.y[train]
    X_test, y_test = X[test], dataset.y[test]
    result.n_train = len(y_train)

    sampler_spec = registry.sampler(task.sampler.name)
    classifier_spec = registry.classifier(task.classifier.name)
    sampler_params = _with_device(sampler_spec, task.sampler.params, device)
    classifier_params = _with_device(classifier_spec, task.classifier.params, device)
    result.device = _devices_used(
        (sampler_spec, sampler_params), (classifier_spec, classifier_params)
    )
    sampler = sampler_spec.factory(
        random_state=derive_seed(task.seed, "sampler"), **sampler_params
    )
    classifier = classifier_spec.factory(
        random_state=derive_seed(task.seed, "classifier"), **classifier_params
    )

    scale_first = config.protocol == "default" and sampler_spec.needs_scaled_input
    if scale_first:
        scaler = StandardScaler().fit(X_train)
        X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
    X_resampled, y_resampled = _resample(
        sampler, X_train, y_train, task, result, dataset.class_names
    )
    _save_training_plot(sampler, task, result)
    if not scale_first:
        scaler = StandardScaler().fit(X_resampled)
        X_resampled, X_test = scaler.transform(X_resampled), scaler.transform(X_test)
    result.n_resampled = len(y_resampled)

    classifier.fit(X_resampled, y_resampled)
    proba = _full_proba(classifier, X_test, dataset.n_classes)
    predicted = np.argmax(proba, axis=1)

    for name, spec in registry.metrics.items():
        if dataset.task not in spec.tasks:
            continue
        try:
            value = float(spec.function(y_test, proba, predicted, dataset.positive))
        except UndefinedMetricError as exc:
            result.scores.append((name, None, str(exc)))
            continue
        except Exception as exc:  # noqa: BLE001 - one broken metric costs one score
            plugin = registry.owner("metrics", name)
            result.scores.append(
                (name, None, f"metric {name!r} (plugin {plugin!r}) failed: {exc!r}")
            )
            continue
        if not np.isfinite(value):
            plugin = registry.owner("metrics", name)
            result.scores.append(
                (name, None, f"metric {name!r} (plugin {plugin!r}) returned {value}")
            )
            continue
        result.scores.append((name, value, ""))


def _save_training_plot(sampler: Any, task: Task, result: TaskResult) -> None:
    """Save the sampler's training curves when the run was started with --plots."""
    plots_dir = task.config.plots_dir
    save = getattr(sampler, "save_training_plot", None)
    if plots_dir is None or not callable(save):
        return
    label = task.sampler.label.replace("/", "_").replace(":", "_")
    name = f"{task.dataset}__{label}__r{task.repeat}f{task.fold}.png"
    try:
        Path(plots_dir).mkdir(parents=True, exist_ok=True)
        save(Path(plots_dir) / name)
    except Exception as exc:  # noqa: BLE001 - a figure never costs the scores
        result.notes.append(f"training plot not saved: {exc!r}")


def _resample(
    sampler: Any,
    X: np.ndarray,
    y: np.ndarray,
    task: Task,
    result: TaskResult,
    class_names: tuple[str, ...],
) -> tuple[np.ndarray, np.ndarray]:
    X_resampled, y_resampled = sampler.fit_resample(X, y)
    X_resampled = np.asarray(X_resampled, dtype=np.float64)
    y_resampled = np.asarray(y_resampled)
    label = task.sampler.label

    if X_resampled.ndim != 2 or X_resampled.shape[1] != X.shape[1]:
        raise SamplerOutputError(
            f"sampler {label!r} returned features of shape {X_resampled.shape}, "
            f"expected (n_rows, {X.shape[1]}); fit_resample must keep the columns."
        )
    if len(X_resampled) != len(y_resampled):
        raise SamplerOutputError(
            f"sampler {label!r} returned {len(X_resampled)} feature rows but "
            f"{len(y_resampled)} labels."
        )
    bad_rows = ~np.isfinite(X_resampled).all(axis=1)
    if bad_rows.any():
        raise SamplerOutputError(
            f"sampler {label!r} returned {int(bad_rows.sum())} row(s) with NaN or "
            f"infinite values out of {len(X_resampled)}. fit_resample must return "
            "finite rows; run benchmark.testing.check_sampler on the sampler to "
            "find the failing case."
        )
    unknown = np.setdiff1d(np.unique(y_resampled), np.unique(y))
    if unknown.size:
        raise SamplerOutputError(
            f"sampler {label!r} returned labels {unknown.tolist()} that are not in "
            "the training fold."
        )

    # A sampling_strategy is read as an over-sampling request unless the sampler
    # declares another imbalanced-learn sampling type, as the no-resampling
    # baseline does with "bypass".
    strategy = getattr(sampler, "sampling_strategy", None)
    sampling_type = getattr(sampler, "_sampling_type", "over-sampling")
    if strategy is not None and sampling_type == "over-sampling":
        requested = check_sampling_strategy(strategy, y, "over-sampling")
        before = np.bincount(y, minlength=int(y.max()) + 1)
        after = np.bincount(y_resampled, minlength=len(before))
        for code, wanted in requested.items():
            made = int(after[code] - before[code])
            if made < wanted:
                result.notes.append(
                    f"sampler {label!r} generated {made} of {wanted} requested rows "
                    f"for class {class_names[code]!r}"
                )
    return X_resampled, y_resampled


def _full_proba(classifier: Any, X_test: np.ndarray, n_classes: int) -> np.ndarray:
    """Return probabilities with one column per class code, even if a class was
    missing from the training data the classifier saw."""
    proba = np.asarray(classifier.predict_proba(X_test), dtype=np.float64)
    valid = np.isfinite(proba).all() and proba.min() >= 0 and proba.max() <= 1
    if not valid or not np.allclose(proba.sum(axis=1), 1.0, atol=1e-6):
        raise ValueError(
            f"classifier {type(classifier).__name__} returned predict_proba values "
            "that are not probabilities (NaN, outside [0, 1], or rows not summing "
            "to 1); scores from them would be meaningless."
        )
    full = np.zeros((len(X_test), n_classes))
    full[:, np.asarray(classifier.classes_, dtype=int)] = proba
    return full
