"""Run one task: select features, scale, resample and fit inside a training fold.

The test fold is never resampled and no fitted step sees it. The order of the
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

import functools
import logging
import time
import traceback
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from imblearn.utils import check_sampling_strategy
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from benchmark.components import Dataset
from benchmark.errors import SamplerOutputError, UndefinedMetricError
from benchmark.plugins import Registry, load_registry
from benchmark.selection import select_features
from benchmark.tasks import RunConfig, Task, derive_seed, iter_splits

__all__ = ["TaskResult", "execute_task", "load_dataset", "select_features"]

logger = logging.getLogger(__name__)


@dataclass
class TaskResult:
    """What a worker sends back for one task, whether it succeeded or not."""

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


@functools.lru_cache(maxsize=1)
def worker_registry() -> Registry:
    """Load the plugins once per process."""
    return load_registry()


@functools.lru_cache(maxsize=8)
def load_dataset(name: str, data_dir: str) -> Dataset:
    """Load a dataset once per process."""
    return worker_registry().dataset(name).loader(Path(data_dir))


def _split(
    dataset: Dataset, config: RunConfig, repeat: int, fold: int
) -> tuple[np.ndarray, np.ndarray]:
    splits = _splits(dataset.name, str(config.data_dir), *_split_key(config))
    return splits[(repeat, fold)]


def _split_key(config: RunConfig) -> tuple[int, int, int]:
    return config.folds, config.repeats, config.seed


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


def execute_task(
    task: Task,
    columns: np.ndarray,
    *,
    device: str = "cpu",
    threads: int = 1,
) -> TaskResult:
    """Run one task and return its scores, or the failure with its reason.

    ``threads`` caps BLAS and torch threads for the task. The default of one
    thread makes results bit-identical whatever the number of parallel
    workers, because multi-threaded reductions may add in another order.
    Exceptions from plugins are caught and recorded: one failing fold never
    stops a run.
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
    )
    started = time.perf_counter()
    try:
        import torch

        torch.set_num_threads(threads)
        with threadpool_limits(limits=threads):
            _run(task, columns, device, result)
    except Exception as exc:  # noqa: BLE001 - recorded with its traceback
        result.status = "failed"
        result.error = f"{type(exc).__name__}: {exc}"
        result.traceback = traceback.format_exc()
        result.scores = []
    result.duration = time.perf_counter() - started
    return result


def _with_device(spec: Any, params: Mapping[str, Any], device: str) -> dict:
    params = {**spec.params, **params}
    if spec.can_use_gpu and "device" not in params:
        params["device"] = device
    return params


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
    sampler = sampler_spec.factory(
        random_state=derive_seed(task.seed, "sampler"),
        **_with_device(sampler_spec, task.sampler.params, device),
    )
    classifier = classifier_spec.factory(
        random_state=derive_seed(task.seed, "classifier"),
        **_with_device(classifier_spec, task.classifier.params, device),
    )

    scale_first = config.protocol == "default" and sampler_spec.needs_scaled_input
    if scale_first:
        scaler = StandardScaler().fit(X_train)
        X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
    X_resampled, y_resampled = _resample(sampler, X_train, y_train, task, result)
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
            value = spec.function(y_test, proba, predicted, dataset.positive)
        except UndefinedMetricError as exc:
            result.scores.append((name, None, str(exc)))
            continue
        result.scores.append((name, float(value), ""))


def _resample(
    sampler: Any, X: np.ndarray, y: np.ndarray, task: Task, result: TaskResult
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
            f"infinite values out of {len(X_resampled)}; the sampler is broken on "
            "this fold."
        )
    unknown = np.setdiff1d(np.unique(y_resampled), np.unique(y))
    if unknown.size:
        raise SamplerOutputError(
            f"sampler {label!r} returned labels {unknown.tolist()} that are not in "
            "the training fold."
        )

    strategy = getattr(sampler, "sampling_strategy", None)
    if strategy is not None:
        requested = check_sampling_strategy(strategy, y, "over-sampling")
        before = np.bincount(y, minlength=int(y.max()) + 1)
        after = np.bincount(y_resampled, minlength=len(before))
        for code, wanted in requested.items():
            made = int(after[code] - before[code])
            if made < wanted:
                result.notes.append(
                    f"sampler {label!r} generated {made} of {wanted} requested rows "
                    f"for class code {code}"
                )
    return X_resampled, y_resampled


def _full_proba(classifier: Any, X_test: np.ndarray, n_classes: int) -> np.ndarray:
    """Return probabilities with one column per class code, even if a class was
    missing from the training data the classifier saw."""
    proba = classifier.predict_proba(X_test)
    full = np.zeros((len(X_test), n_classes))
    full[:, np.asarray(classifier.classes_, dtype=int)] = proba
    return full
