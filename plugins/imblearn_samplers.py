"""Oversamplers from imbalanced-learn, under stable harness names."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from imblearn import over_sampling
from imblearn.base import BaseSampler

from benchmark.components import SamplerSpec
from benchmark.hookspecs import hookimpl


class NoResampling(BaseSampler):
    """Return the training data unchanged: the baseline every sampler must beat."""

    _sampling_type = "bypass"
    _parameter_constraints: dict = {}

    def __init__(self, sampling_strategy: str = "auto", random_state: Any = None):
        self.sampling_strategy = sampling_strategy
        self.random_state = random_state

    def _fit_resample(self, X: np.ndarray, y: np.ndarray) -> tuple:
        return X, y


def _neighbours_plus_one(key: str, default: int) -> Any:
    """SMOTE-style samplers need ``k + 1`` rows of a class to find k neighbours."""

    def min_class_size(params: Mapping[str, Any]) -> int:
        value = params.get(key, default)
        return int(value) + 1 if isinstance(value, int) else 2

    return min_class_size


def _factory(cls: type, **fixed: Any) -> Any:
    def build(random_state: int | None = None, **params: Any) -> Any:
        return cls(random_state=random_state, **{**fixed, **params})

    build.__name__ = f"build_{cls.__name__}"
    return build


@hookimpl
def bench_register_samplers() -> list[SamplerSpec]:
    return [
        SamplerSpec(
            name="none",
            factory=NoResampling,
            description="No resampling: train on the imbalanced fold as it is.",
        ),
        SamplerSpec(
            name="random",
            factory=_factory(over_sampling.RandomOverSampler),
            description="Random oversampling: duplicate minority rows at random.",
        ),
        SamplerSpec(
            name="smote",
            factory=_factory(over_sampling.SMOTE),
            description="SMOTE: interpolate between a minority row and a neighbour.",
            params={"k_neighbors": 5},
            min_class_size=_neighbours_plus_one("k_neighbors", 5),
        ),
        SamplerSpec(
            name="borderline-smote-1",
            factory=_factory(over_sampling.BorderlineSMOTE, kind="borderline-1"),
            description="Borderline-SMOTE 1: SMOTE seeded by rows near the border.",
            params={"k_neighbors": 5, "m_neighbors": 10},
            min_class_size=_neighbours_plus_one("k_neighbors", 5),
        ),
        SamplerSpec(
            name="borderline-smote-2",
            factory=_factory(over_sampling.BorderlineSMOTE, kind="borderline-2"),
            description="Borderline-SMOTE 2: also interpolates towards other classes.",
            params={"k_neighbors": 5, "m_neighbors": 10},
            min_class_size=_neighbours_plus_one("k_neighbors", 5),
        ),
        SamplerSpec(
            name="adasyn",
            factory=_factory(over_sampling.ADASYN),
            description="ADASYN: more synthetic rows where the minority is harder.",
            params={"n_neighbors": 5},
            min_class_size=_neighbours_plus_one("n_neighbors", 5),
        ),
        SamplerSpec(
            name="svm-smote",
            factory=_factory(over_sampling.SVMSMOTE),
            description="SVM-SMOTE: SMOTE seeded by an SVM's minority support vectors.",
            params={"k_neighbors": 5, "m_neighbors": 10},
            min_class_size=_neighbours_plus_one("k_neighbors", 5),
        ),
        SamplerSpec(
            name="kmeans-smote",
            factory=_factory(over_sampling.KMeansSMOTE),
            description="KMeans-SMOTE: SMOTE inside clusters with many minority rows.",
            params={"k_neighbors": 2, "cluster_balance_threshold": "auto"},
            min_class_size=_neighbours_plus_one("k_neighbors", 2),
        ),
    ]
