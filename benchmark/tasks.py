"""Turn a run configuration into tasks, and check them before dispatch.

A task is one (dataset, sampler, classifier, repeat, fold) cell. Every sampler
gets the same splits of a dataset (a paired design), and every task's seed is
derived from the run seed and the task's identity, so a result does not depend
on the order or the process in which tasks run.
"""

from __future__ import annotations

import ast
import hashlib
import json
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.model_selection import RepeatedStratifiedKFold

from benchmark.components import Dataset
from benchmark.errors import BenchWarning, ConfigurationError, DatasetError
from benchmark.plugins import Registry

__all__ = [
    "ComponentChoice",
    "RunConfig",
    "Task",
    "build_tasks",
    "check_datasets",
    "derive_seed",
    "iter_splits",
    "parse_choice",
]

PROTOCOLS = ("default", "paper")

# Parameter names under which samplers take their neighbour count, in the
# order check_samplers looks for them when it suggests a smaller value.
NEIGHBOUR_PARAMETERS = ("k_neighbors", "n_neighbors")


def derive_seed(*parts: object) -> int:
    """Return a 32-bit seed that depends only on ``parts``, never on run order."""
    digest = hashlib.sha256("|".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(digest[:4], "little")


@dataclass(frozen=True)
class ComponentChoice:
    """A sampler or classifier name with the parameters the user set.

    ``label`` is how results name it: the name alone when no parameters were
    set, otherwise the command-line form such as ``smote:k_neighbors=3``.
    """

    name: str
    params: Mapping[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        if not self.params:
            return self.name
        settings = ",".join(f"{k}={self.params[k]!r}" for k in sorted(self.params))
        return f"{self.name}:{settings}"

    def __hash__(self) -> int:
        return hash(self.label)


def parse_choice(text: str) -> ComponentChoice:
    """Parse ``name`` or ``name:key=value,key=value`` from the command line.

    Values are read as Python literals (``3``, ``0.5``, ``'auto'``, ``None``);
    anything that is not a literal is kept as a string.
    """
    name, _, settings = text.partition(":")
    name = name.strip()
    params: dict[str, Any] = {}
    for item in filter(None, (s.strip() for s in settings.split(","))):
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise ConfigurationError(
                f"invalid parameter {item!r} in {text!r}: expected key=value, "
                "as in smote:k_neighbors=3"
            )
        try:
            value = ast.literal_eval(raw.strip())
        except (ValueError, SyntaxError):
            value = raw.strip()
        params[key.strip()] = value
    return ComponentChoice(name, params)


@dataclass(frozen=True)
class RunConfig:
    """Everything that decides what a run computes.

    ``plots_dir``, when set, is where samplers that can draw their training
    curves (a ``save_training_plot(path)`` method) save one figure per task;
    it changes no score and is not part of task keys.
    """

    datasets: tuple[str, ...]
    samplers: tuple[ComponentChoice, ...]
    classifiers: tuple[ComponentChoice, ...]
    folds: int = 5
    repeats: int = 3
    seed: int = 42
    n_features: int = 64
    protocol: str = "default"
    data_dir: Path = Path("datasets")
    plots_dir: Path | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "plots_dir": None if self.plots_dir is None else str(self.plots_dir),
            "datasets": list(self.datasets),
            "samplers": [
                {"name": c.name, "params": dict(c.params)} for c in self.samplers
            ],
            "classifiers": [
                {"name": c.name, "params": dict(c.params)} for c in self.classifiers
            ],
            "folds": self.folds,
            "repeats": self.repeats,
            "seed": self.seed,
            "n_features": self.n_features,
            "protocol": self.protocol,
            "data_dir": str(self.data_dir),
        }


@dataclass(frozen=True)
class Task:
    """One cell of the benchmark grid, small enough to send to a worker."""

    dataset: str
    sampler: ComponentChoice
    classifier: ComponentChoice
    repeat: int
    fold: int
    seed: int
    config: RunConfig
    versions: str = ""

    @property
    def key(self) -> str:
        """A store key that changes with parameters, protocol and package versions."""
        identity = {
            "dataset": self.dataset,
            "sampler": self.sampler.name,
            "sampler_params": dict(self.sampler.params),
            "classifier": self.classifier.name,
            "classifier_params": dict(self.classifier.params),
            "repeat": self.repeat,
            "fold": self.fold,
            "seed": self.seed,
            "folds": self.config.folds,
            "n_features": self.config.n_features,
            "protocol": self.config.protocol,
            "versions": self.versions,
        }
        text = json.dumps(identity, sort_keys=True, default=repr)
        return hashlib.sha256(text.encode()).hexdigest()[:24]

    def describe(self) -> str:
        return (
            f"dataset={self.dataset} sampler={self.sampler.label} "
            f"classifier={self.classifier.label} repeat={self.repeat} fold={self.fold}"
        )


def iter_splits(
    dataset: Dataset, folds: int, repeats: int, seed: int
) -> Iterator[tuple[int, int, np.ndarray, np.ndarray]]:
    """Yield ``(repeat, fold, train_index, test_index)`` for a dataset.

    The splits depend on the run seed and the dataset name only, so every
    sampler and classifier is evaluated on the same folds.
    """
    splitter = RepeatedStratifiedKFold(
        n_splits=folds,
        n_repeats=repeats,
        random_state=derive_seed(seed, "splits", dataset.name),
    )
    for index, (train, test) in enumerate(splitter.split(dataset.X, dataset.y)):
        repeat, fold = divmod(index, folds)
        yield repeat, fold, train, test


def check_datasets(datasets: Mapping[str, Dataset], config: RunConfig) -> None:
    """Raise before dispatch when a dataset cannot be split into the folds."""
    for dataset in datasets.values():
        counts = dataset.class_counts
        class_name = min(counts, key=counts.get)
        count = counts[class_name]
        if count >= config.folds:
            continue
        if count >= 2:
            advice = f"Use --folds {count} or fewer, or leave the dataset out."
        else:
            advice = (
                "A class of one sample cannot be cross-validated: leave the "
                "dataset out, or merge or drop that class in its plugin."
            )
        raise DatasetError(
            f"dataset {dataset.name!r}: class {class_name!r} has {count} "
            f"sample(s), fewer than --folds {config.folds}, so stratified "
            f"cross-validation cannot place it in every fold. {advice}"
        )


def check_samplers(
    datasets: Mapping[str, Dataset], config: RunConfig, registry: Registry
) -> list[str]:
    """Warn up front about (dataset, sampler) pairs that will fail on some folds.

    A sampler may need more rows of a class than a training fold holds, such as
    SMOTE with ``k_neighbors + 1``. Those tasks still run and are recorded as
    failed with the reason. This check only warns before the run starts.
    Returns the warning messages.
    """
    messages = []
    for dataset in datasets.values():
        smallest_class = min(dataset.class_counts, key=dataset.class_counts.get)
        # The smallest training fold of a class: its count minus the largest
        # share a test fold can take.
        count = dataset.class_counts[smallest_class]
        train_count = count - int(np.ceil(count / config.folds))
        for choice in config.samplers:
            spec = registry.sampler(choice.name)
            if not spec.supports_multiclass and dataset.task == "multiclass":
                messages.append(
                    f"sampler {choice.label!r} supports binary tasks only; its tasks "
                    f"on {dataset.name!r} ({dataset.n_classes} classes) will fail."
                )
                continue
            if spec.min_class_size is None:
                continue
            params = {**spec.params, **choice.params}
            needed = spec.min_class_size(params)
            if train_count < needed:
                neighbours = next(
                    (key for key in NEIGHBOUR_PARAMETERS if key in params), None
                )
                advice = (
                    "Lower the sampler's neighbour count, for example "
                    f"{choice.name}:{neighbours}={max(1, train_count - 1)}."
                    if neighbours
                    else "Use fewer folds or leave the dataset out."
                )
                messages.append(
                    f"sampler {choice.label!r} needs at least {needed} rows of a class "
                    f"in a training fold, but class {smallest_class!r} of "
                    f"{dataset.name!r} has about {train_count}; those tasks will be "
                    f"recorded as failed. {advice}"
                )
    for message in messages:
        warnings.warn(message, BenchWarning, stacklevel=2)
    return messages


def build_tasks(
    config: RunConfig, datasets: Sequence[str], versions: str = ""
) -> list[Task]:
    """Return every task of the run, in a stable order."""
    tasks = []
    for dataset in datasets:
        for repeat in range(config.repeats):
            for fold in range(config.folds):
                for sampler in config.samplers:
                    for classifier in config.classifiers:
                        seed = derive_seed(
                            config.seed,
                            dataset,
                            sampler.label,
                            classifier.label,
                            repeat,
                            fold,
                        )
                        tasks.append(
                            Task(
                                dataset=dataset,
                                sampler=sampler,
                                classifier=classifier,
                                repeat=repeat,
                                fold=fold,
                                seed=seed,
                                config=config,
                                versions=versions,
                            )
                        )
    return tasks
