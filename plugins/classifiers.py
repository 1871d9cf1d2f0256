"""Built-in classifiers: the LEO-CVAE paper's MLP, logistic regression, a forest."""

from __future__ import annotations

from typing import Any

from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression

from benchmark.components import ClassifierSpec
from benchmark.hookspecs import hookimpl


def _mlp(random_state: int | None = None, **params: Any) -> Any:
    # Imported here so that listing plugins or resuming a run skips torch.
    from plugins.mlp import TorchMLPClassifier

    return TorchMLPClassifier(random_state=random_state, **params)


def _logistic_regression(random_state: int | None = None, **params: Any) -> Any:
    return LogisticRegression(random_state=random_state, **params)


def _random_forest(random_state: int | None = None, **params: Any) -> Any:
    # n_jobs=1: the harness parallelises over tasks, not inside one model.
    return RandomForestClassifier(random_state=random_state, n_jobs=1, **params)


@hookimpl
def bench_register_classifiers() -> list[ClassifierSpec]:
    return [
        ClassifierSpec(
            name="mlp",
            factory=_mlp,
            description=(
                "Torch MLP (32 hidden, batch norm, dropout 0.5, Adam 1e-4) with early "
                "stopping on an inner validation split of the training fold."
            ),
            uses_torch=True,
            can_use_gpu=True,
        ),
        ClassifierSpec(
            name="logreg",
            factory=_logistic_regression,
            description="L2-regularised logistic regression (lbfgs, C=1).",
            params={"max_iter": 2000},
        ),
        ClassifierSpec(
            name="rf",
            factory=_random_forest,
            description="Random forest of 200 trees.",
            params={"n_estimators": 200},
        ),
    ]
