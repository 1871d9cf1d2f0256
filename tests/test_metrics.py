"""Built-in metrics against scikit-learn, and the folds where they are undefined."""

from __future__ import annotations

import re

import numpy as np
import pytest
from imblearn.metrics import geometric_mean_score
from sklearn import metrics as skm
from sklearn.preprocessing import label_binarize

from benchmark.errors import UndefinedMetricError

# Binary fold: 8 negatives and 4 positives, with a tied score (0.35) across the
# classes. A 0.5 threshold gives 2 true positives, 1 false positive and 2 false
# negatives.
BINARY_TRUE = np.array([0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1])
BINARY_SCORE = np.array(
    [0.10, 0.20, 0.35, 0.40, 0.55, 0.15, 0.30, 0.05, 0.80, 0.45, 0.60, 0.35]
)
BINARY_PROBA = np.column_stack([1 - BINARY_SCORE, BINARY_SCORE])
BINARY_PRED = np.argmax(BINARY_PROBA, axis=1)

# Three-class fold of 6, 3 and 3 rows. Per-class recalls are 5/6, 2/3 and 2/3.
MULTI_TRUE = np.array([0, 0, 0, 0, 0, 0, 1, 1, 1, 2, 2, 2])
MULTI_PROBA = np.array(
    [
        [0.70, 0.20, 0.10],
        [0.60, 0.30, 0.10],
        [0.50, 0.20, 0.30],
        [0.30, 0.50, 0.20],
        [0.80, 0.10, 0.10],
        [0.40, 0.35, 0.25],
        [0.20, 0.60, 0.20],
        [0.30, 0.30, 0.40],
        [0.10, 0.70, 0.20],
        [0.10, 0.20, 0.70],
        [0.20, 0.50, 0.30],
        [0.30, 0.10, 0.60],
    ]
)
MULTI_PRED = np.argmax(MULTI_PROBA, axis=1)


def trapezoid_pr_auc(y_true, score):
    precision, recall, _ = skm.precision_recall_curve(y_true, score)
    return skm.auc(recall, precision)


BINARY_REFERENCES = {
    "auc": lambda: skm.roc_auc_score(BINARY_TRUE, BINARY_SCORE),
    "ap": lambda: skm.average_precision_score(BINARY_TRUE, BINARY_SCORE),
    "pr-auc": lambda: trapezoid_pr_auc(BINARY_TRUE, BINARY_SCORE),
    "f1": lambda: skm.f1_score(BINARY_TRUE, BINARY_PRED),
    "balanced-accuracy": lambda: skm.balanced_accuracy_score(BINARY_TRUE, BINARY_PRED),
    "g-mean": lambda: geometric_mean_score(BINARY_TRUE, BINARY_PRED),
    "mcc": lambda: skm.matthews_corrcoef(BINARY_TRUE, BINARY_PRED),
}

MULTI_ONEHOT = label_binarize(MULTI_TRUE, classes=[0, 1, 2])
MULTI_REFERENCES = {
    "auc": lambda: skm.roc_auc_score(MULTI_TRUE, MULTI_PROBA, multi_class="ovr"),
    "auc-macro": lambda: skm.roc_auc_score(
        MULTI_TRUE, MULTI_PROBA, multi_class="ovr", average="macro"
    ),
    "auc-micro": lambda: skm.roc_auc_score(
        MULTI_TRUE, MULTI_PROBA, multi_class="ovr", average="micro"
    ),
    "ap": lambda: skm.average_precision_score(MULTI_TRUE, MULTI_PROBA),
    "ap-macro": lambda: skm.average_precision_score(
        MULTI_TRUE, MULTI_PROBA, average="macro"
    ),
    "ap-micro": lambda: skm.average_precision_score(
        MULTI_ONEHOT, MULTI_PROBA, average="micro"
    ),
    "f1": lambda: skm.f1_score(MULTI_TRUE, MULTI_PRED, average="macro"),
    "f1-macro": lambda: skm.f1_score(MULTI_TRUE, MULTI_PRED, average="macro"),
    "f1-micro": lambda: skm.f1_score(MULTI_TRUE, MULTI_PRED, average="micro"),
    "balanced-accuracy": lambda: skm.balanced_accuracy_score(MULTI_TRUE, MULTI_PRED),
    "g-mean": lambda: geometric_mean_score(MULTI_TRUE, MULTI_PRED),
    "mcc": lambda: skm.matthews_corrcoef(MULTI_TRUE, MULTI_PRED),
}


def score(registry, name, y_true, y_proba, positive=1, y_pred=None):
    if y_pred is None:
        y_pred = np.argmax(y_proba, axis=1)
    return registry.metric(name).function(y_true, y_proba, y_pred, positive)


@pytest.mark.parametrize("name", sorted(BINARY_REFERENCES))
def test_binary_metric_matches_reference(registry, name):
    expected = BINARY_REFERENCES[name]()

    assert score(registry, name, BINARY_TRUE, BINARY_PROBA) == pytest.approx(expected)


@pytest.mark.parametrize("name", sorted(MULTI_REFERENCES))
def test_multiclass_metric_matches_reference(registry, name):
    expected = MULTI_REFERENCES[name]()

    assert score(registry, name, MULTI_TRUE, MULTI_PROBA, 0) == pytest.approx(expected)


def test_binary_f1_value(registry):
    assert score(registry, "f1", BINARY_TRUE, BINARY_PROBA) == pytest.approx(4 / 7)


def test_multiclass_g_mean_value(registry):
    expected = (5 / 6 * 2 / 3 * 2 / 3) ** (1 / 3)

    assert score(registry, "g-mean", MULTI_TRUE, MULTI_PROBA, 0) == pytest.approx(
        expected
    )


def test_trapezoidal_pr_auc_differs_from_average_precision(registry):
    pr_auc = score(registry, "pr-auc", BINARY_TRUE, BINARY_PROBA)
    ap = score(registry, "ap", BINARY_TRUE, BINARY_PROBA)

    assert pr_auc == pytest.approx(trapezoid_pr_auc(BINARY_TRUE, BINARY_SCORE))
    # With the tied score the trapezoid falls below average precision here.
    assert pr_auc != pytest.approx(ap)


@pytest.mark.parametrize("name", ["auc", "ap", "pr-auc", "f1", "mcc"])
def test_binary_metric_uses_positive_code(registry, name):
    # Swapping the codes and the probability columns must give the same value
    # when the positive code is swapped too.
    swapped = score(registry, name, 1 - BINARY_TRUE, BINARY_PROBA[:, ::-1], 0)

    assert swapped == pytest.approx(score(registry, name, BINARY_TRUE, BINARY_PROBA))


def test_binary_metrics_with_positive_code_zero(registry):
    positive_is_zero = BINARY_TRUE == 0

    assert score(registry, "auc", BINARY_TRUE, BINARY_PROBA, 0) == pytest.approx(
        skm.roc_auc_score(positive_is_zero, BINARY_PROBA[:, 0])
    )
    assert score(registry, "f1", BINARY_TRUE, BINARY_PROBA, 0) == pytest.approx(
        skm.f1_score(BINARY_TRUE, BINARY_PRED, pos_label=0)
    )


def test_metric_task_applicability(registry):
    binary = {n for n, spec in registry.metrics.items() if "binary" in spec.tasks}
    multi = {n for n, spec in registry.metrics.items() if "multiclass" in spec.tasks}

    assert binary == set(BINARY_REFERENCES)
    assert multi == set(MULTI_REFERENCES)


def test_f1_is_zero_when_no_positive_is_predicted(registry):
    y_pred = np.zeros_like(BINARY_TRUE)

    value = score(registry, "f1", BINARY_TRUE, BINARY_PROBA, y_pred=y_pred)

    assert value == 0.0


# Undefined values


def test_auc_undefined_with_one_class_in_fold(registry):
    y_true = np.zeros(6, dtype=int)

    with pytest.raises(
        UndefinedMetricError,
        match=re.escape(
            "ROC AUC is undefined: class code(s) [1] absent from the test fold"
        ),
    ):
        score(registry, "auc", y_true, BINARY_PROBA[:6])


def test_ap_undefined_without_positive(registry):
    y_true = np.zeros(6, dtype=int)

    with pytest.raises(
        UndefinedMetricError,
        match=re.escape("average precision is undefined: class code(s) [1] absent"),
    ):
        score(registry, "ap", y_true, BINARY_PROBA[:6])


def test_ap_defined_without_negatives(registry):
    y_true = np.ones(4, dtype=int)

    assert score(registry, "ap", y_true, BINARY_PROBA[8:]) == pytest.approx(1.0)


def test_pr_auc_undefined_without_positive(registry):
    y_true = np.zeros(6, dtype=int)

    with pytest.raises(
        UndefinedMetricError,
        match=re.escape("PR AUC is undefined: class code(s) [1] absent"),
    ):
        score(registry, "pr-auc", y_true, BINARY_PROBA[:6])


def test_f1_undefined_without_positives(registry):
    y_true = np.zeros(6, dtype=int)
    y_pred = np.zeros(6, dtype=int)

    with pytest.raises(
        UndefinedMetricError,
        match="F1 is undefined: the positive class is neither in the test fold nor "
        "predicted",
    ):
        score(registry, "f1", y_true, BINARY_PROBA[:6], y_pred=y_pred)


def test_mcc_undefined_with_constant_predictions(registry):
    y_pred = np.zeros_like(BINARY_TRUE)

    with pytest.raises(
        UndefinedMetricError,
        match="MCC is undefined: every prediction is class code 0",
    ):
        score(registry, "mcc", BINARY_TRUE, BINARY_PROBA, y_pred=y_pred)


def test_mcc_undefined_with_one_class_in_fold(registry):
    y_true = np.zeros(6, dtype=int)
    y_pred = np.array([0, 1, 0, 0, 1, 0])

    with pytest.raises(
        UndefinedMetricError, match="MCC is undefined: the test fold has one class"
    ):
        score(registry, "mcc", y_true, BINARY_PROBA[:6], y_pred=y_pred)


@pytest.mark.parametrize(
    ("name", "what"),
    [
        ("auc", "macro ROC AUC"),
        ("auc-macro", "macro ROC AUC"),
        ("ap", "macro average precision"),
        ("ap-macro", "macro average precision"),
        ("balanced-accuracy", "per-class recall"),
        ("g-mean", "per-class recall"),
    ],
)
def test_macro_metric_undefined_with_absent_class(registry, name, what):
    without_class_2 = MULTI_TRUE < 2

    with pytest.raises(
        UndefinedMetricError,
        match=re.escape(
            f"{what} is undefined: class code(s) [2] absent from the test fold"
        ),
    ):
        score(registry, name, MULTI_TRUE[without_class_2], MULTI_PROBA[without_class_2])


def test_macro_f1_undefined_for_absent_class(registry):
    y_true = np.array([0, 0, 1, 1, 0, 1])
    y_pred = np.array([0, 1, 1, 1, 0, 0])

    with pytest.raises(UndefinedMetricError, match="F1 is undefined"):
        score(registry, "f1-macro", y_true, MULTI_PROBA[:6], 0, y_pred=y_pred)


@pytest.mark.parametrize("name", ["auc-micro", "ap-micro", "f1-micro"])
def test_micro_metric_defined_with_absent_class(registry, name):
    without_class_2 = MULTI_TRUE < 2

    value = score(
        registry, name, MULTI_TRUE[without_class_2], MULTI_PROBA[without_class_2], 0
    )

    assert 0.0 <= value <= 1.0
