"""Built-in metrics for binary and multiclass test folds.

Names without a suffix work on every task: ``auc``, ``ap``, ``f1`` use the
positive class for binary tasks and the macro average over classes for
multiclass tasks. ``-micro`` and ``-macro`` variants apply to multiclass tasks
only. A metric that has no value on a fold raises
:class:`~benchmark.errors.UndefinedMetricError` with the reason, which the
harness records instead of a number.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from sklearn import metrics as skm
from sklearn.preprocessing import label_binarize

from benchmark.components import MetricSpec
from benchmark.errors import UndefinedMetricError
from benchmark.hookspecs import hookimpl

BINARY = frozenset({"binary"})
MULTICLASS = frozenset({"multiclass"})
BOTH = BINARY | MULTICLASS

MetricFunction = Callable[[np.ndarray, np.ndarray, np.ndarray, int], float]


def _n_classes(y_proba: np.ndarray) -> int:
    return y_proba.shape[1]


def _require_classes(y_true: np.ndarray, classes: np.ndarray, what: str) -> None:
    absent = np.setdiff1d(classes, np.unique(y_true))
    if absent.size:
        raise UndefinedMetricError(
            f"{what} is undefined: class code(s) {absent.tolist()} absent from the "
            "test fold"
        )


def _binary_f1(y_true: np.ndarray, y_pred: np.ndarray, positive: int) -> float:
    tp = np.sum((y_pred == positive) & (y_true == positive))
    fp = np.sum((y_pred == positive) & (y_true != positive))
    fn = np.sum((y_pred != positive) & (y_true == positive))
    if 2 * tp + fp + fn == 0:
        raise UndefinedMetricError(
            "F1 is undefined: the positive class is neither in the test fold nor "
            "predicted"
        )
    return float(2 * tp / (2 * tp + fp + fn))


def f1(y_true, y_proba, y_pred, positive) -> float:
    if _n_classes(y_proba) == 2:
        return _binary_f1(y_true, y_pred, positive)
    return f1_macro(y_true, y_proba, y_pred, positive)


def f1_micro(y_true, y_proba, y_pred, positive) -> float:
    # Micro F1 over all classes equals accuracy for single-label problems.
    return float(np.mean(y_true == y_pred))


def f1_macro(y_true, y_proba, y_pred, positive) -> float:
    scores = [_binary_f1(y_true, y_pred, code) for code in range(_n_classes(y_proba))]
    return float(np.mean(scores))


def roc_auc(y_true, y_proba, y_pred, positive) -> float:
    if _n_classes(y_proba) == 2:
        _require_classes(y_true, np.array([0, 1]), "ROC AUC")
        return float(skm.roc_auc_score(y_true == positive, y_proba[:, positive]))
    return roc_auc_macro(y_true, y_proba, y_pred, positive)


def roc_auc_micro(y_true, y_proba, y_pred, positive) -> float:
    onehot = label_binarize(y_true, classes=np.arange(_n_classes(y_proba)))
    return float(skm.roc_auc_score(onehot, y_proba, average="micro"))


def roc_auc_macro(y_true, y_proba, y_pred, positive) -> float:
    classes = np.arange(_n_classes(y_proba))
    _require_classes(y_true, classes, "macro ROC AUC")
    onehot = label_binarize(y_true, classes=classes)
    return float(skm.roc_auc_score(onehot, y_proba, average="macro"))


def average_precision(y_true, y_proba, y_pred, positive) -> float:
    if _n_classes(y_proba) == 2:
        _require_classes(y_true, np.array([positive]), "average precision")
        return float(
            skm.average_precision_score(y_true == positive, y_proba[:, positive])
        )
    return average_precision_macro(y_true, y_proba, y_pred, positive)


def average_precision_micro(y_true, y_proba, y_pred, positive) -> float:
    onehot = label_binarize(y_true, classes=np.arange(_n_classes(y_proba)))
    return float(skm.average_precision_score(onehot, y_proba, average="micro"))


def average_precision_macro(y_true, y_proba, y_pred, positive) -> float:
    classes = np.arange(_n_classes(y_proba))
    _require_classes(y_true, classes, "macro average precision")
    onehot = label_binarize(y_true, classes=classes)
    return float(skm.average_precision_score(onehot, y_proba, average="macro"))


def pr_auc_trapezoid(y_true, y_proba, y_pred, positive) -> float:
    # The area under the precision-recall curve by the trapezoidal rule, as
    # sklearn.metrics.auc(recall, precision) computes it. Linear interpolation
    # between curve points differs from the step-wise average precision; it is
    # reported because published LEO-CVAE results use it.
    _require_classes(y_true, np.array([positive]), "PR AUC")
    precision, recall, _ = skm.precision_recall_curve(
        y_true == positive, y_proba[:, positive]
    )
    return float(skm.auc(recall, precision))


def balanced_accuracy(y_true, y_proba, y_pred, positive) -> float:
    recalls = _recalls(y_true, y_pred, _n_classes(y_proba))
    return float(np.mean(recalls))


def g_mean(y_true, y_proba, y_pred, positive) -> float:
    recalls = _recalls(y_true, y_pred, _n_classes(y_proba))
    return float(np.prod(recalls) ** (1.0 / len(recalls)))


def _recalls(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> np.ndarray:
    classes = np.arange(n_classes)
    _require_classes(y_true, classes, "per-class recall")
    return np.array([np.mean(y_pred[y_true == c] == c) for c in classes])


def mcc(y_true, y_proba, y_pred, positive) -> float:
    if np.unique(y_pred).size < 2:
        raise UndefinedMetricError(
            f"MCC is undefined: every prediction is class code {int(y_pred[0])}"
        )
    if np.unique(y_true).size < 2:
        raise UndefinedMetricError("MCC is undefined: the test fold has one class")
    return float(skm.matthews_corrcoef(y_true, y_pred))


@hookimpl
def bench_register_metrics() -> list[MetricSpec]:
    table: list[tuple[str, MetricFunction, frozenset[str], str]] = [
        ("auc", roc_auc, BOTH, "ROC AUC (binary: positive class; else macro OvR)"),
        ("ap", average_precision, BOTH, "Average precision (binary; else macro)"),
        ("pr-auc", pr_auc_trapezoid, BINARY, "Trapezoidal area under the PR curve"),
        ("f1", f1, BOTH, "F1 (binary: positive class; else macro)"),
        ("balanced-accuracy", balanced_accuracy, BOTH, "Mean per-class recall"),
        ("g-mean", g_mean, BOTH, "Geometric mean of per-class recalls"),
        ("mcc", mcc, BOTH, "Matthews correlation coefficient"),
        ("f1-micro", f1_micro, MULTICLASS, "Micro-averaged F1 (equals accuracy)"),
        ("f1-macro", f1_macro, MULTICLASS, "Macro-averaged F1"),
        ("auc-micro", roc_auc_micro, MULTICLASS, "Micro-averaged one-vs-rest ROC AUC"),
        ("auc-macro", roc_auc_macro, MULTICLASS, "Macro-averaged one-vs-rest ROC AUC"),
        ("ap-micro", average_precision_micro, MULTICLASS, "Micro average precision"),
        ("ap-macro", average_precision_macro, MULTICLASS, "Macro average precision"),
    ]
    return [
        MetricSpec(name=name, function=function, description=text, tasks=tasks)
        for name, function, tasks, text in table
    ]
