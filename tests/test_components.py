"""Dataset.from_frame: label encoding, the positive class and input validation."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from benchmark.components import Dataset
from benchmark.errors import DatasetError


def numeric_frame(n_rows: int, n_columns: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    values = rng.normal(size=(n_rows, n_columns))
    return pd.DataFrame(values, columns=[f"GENE{i + 1}" for i in range(n_columns)])


def test_string_labels_are_encoded_in_sorted_order():
    labels = ["tumour", "normal", "metastasis", "normal", "tumour", "normal"]

    dataset = Dataset.from_frame("tissues", numeric_frame(6), labels)

    assert dataset.class_names == ("metastasis", "normal", "tumour")
    assert dataset.y.tolist() == [2, 1, 0, 1, 2, 1]
    assert dataset.y.dtype == np.int64


def test_numeric_labels_are_encoded_in_numeric_order():
    labels = np.array([2, 10, 1, 2, 10, 1])

    dataset = Dataset.from_frame("grades", numeric_frame(6), labels)

    assert dataset.class_names == ("1", "2", "10")


def test_series_labels_align_by_position():
    X = numeric_frame(4)
    labels = pd.Series(["b", "a", "b", "a"], index=[40, 30, 20, 10])

    dataset = Dataset.from_frame("shuffled", X, labels)

    assert dataset.y.tolist() == [1, 0, 1, 0]


def test_nullable_integer_labels_are_encoded():
    labels = pd.array([0, 1, 1, 0, 1], dtype="Int64")

    dataset = Dataset.from_frame("nullable", numeric_frame(5), labels)

    assert dataset.class_names == ("0", "1")
    assert dataset.y.tolist() == [0, 1, 1, 0, 1]


def test_missing_nullable_labels_raise_with_count_and_positions():
    labels = pd.array([0, 1, pd.NA, 1, pd.NA, 0], dtype="Int64")

    with pytest.raises(
        DatasetError,
        match=re.escape(
            "dataset 'nullable': 2 label(s) are missing (first at row positions [2, 4])"
        ),
    ):
        Dataset.from_frame("nullable", numeric_frame(6), labels)


def test_missing_labels_report_positions_not_index():
    labels = pd.Series(["a", None, "b", "a"], index=[7, 8, 9, 10])

    with pytest.raises(DatasetError, match=re.escape("row positions [1]")):
        Dataset.from_frame("indexed", numeric_frame(4), labels)


def test_label_count_mismatch_raises():
    with pytest.raises(
        DatasetError, match=re.escape("dataset 'short': 5 feature rows but 4 labels.")
    ):
        Dataset.from_frame("short", numeric_frame(5), ["a", "b", "a", "b"])


def test_string_feature_column_raises_with_encoding_advice():
    X = numeric_frame(4)
    X["sex"] = ["F", "M", "M", "F"]

    with pytest.raises(
        DatasetError,
        match=r"feature column\(s\) 'sex' are not numeric\. Encode them as numbers "
        r"\(for example one-hot with pandas\.get_dummies\)",
    ):
        Dataset.from_frame("clinical", X, ["a", "b", "a", "b"])


def test_categorical_feature_column_raises():
    X = numeric_frame(4)
    X["stage"] = pd.Categorical(["I", "II", "II", "III"])

    with pytest.raises(DatasetError, match=r"feature column\(s\) 'stage'"):
        Dataset.from_frame("clinical", X, ["a", "b", "a", "b"])


def test_many_non_numeric_columns_are_summarised():
    X = numeric_frame(2)
    for i in range(7):
        X[f"note{i}"] = ["x", "y"]

    with pytest.raises(DatasetError, match=r"'note4' and 2 more are not numeric"):
        Dataset.from_frame("notes", X, ["a", "b"])


def test_missing_feature_values_raise():
    X = numeric_frame(6)
    X.loc[[1, 4], "GENE2"] = np.nan

    with pytest.raises(
        DatasetError,
        match=re.escape("missing or infinite values in column(s) 'GENE2' (2 rows)"),
    ):
        Dataset.from_frame("gaps", X, ["a", "b"] * 3)


def test_missing_values_in_nullable_feature_column_raise():
    X = numeric_frame(4)
    X["AGE"] = pd.array([61, pd.NA, 55, 70], dtype="Int64")

    with pytest.raises(
        DatasetError, match=re.escape("column(s) 'AGE' (1 rows). Impute them")
    ):
        Dataset.from_frame("ages", X, ["a", "b"] * 2)


def test_infinite_feature_values_raise():
    X = numeric_frame(4)
    X.loc[0, "GENE1"] = np.inf
    X.loc[3, "GENE3"] = -np.inf

    with pytest.raises(
        DatasetError,
        match=re.escape("column(s) 'GENE1' (1 rows), 'GENE3' (1 rows)."),
    ):
        Dataset.from_frame("ratios", X, ["a", "b"] * 2)


def test_boolean_and_integer_features_become_float():
    X = pd.DataFrame({"SMOKER": [True, False, True, False], "AGE": [61, 48, 55, 70]})

    dataset = Dataset.from_frame("clinical", X, ["a", "b"] * 2)

    assert dataset.X.dtypes.tolist() == [np.float64, np.float64]
    assert dataset.X["SMOKER"].tolist() == [1.0, 0.0, 1.0, 0.0]


def test_array_features_get_generated_column_names():
    X = np.arange(8.0).reshape(4, 2)

    dataset = Dataset.from_frame("plain", X, ["a", "b"] * 2)

    assert dataset.X.columns.tolist() == ["x0", "x1"]


def test_no_feature_columns_raises():
    with pytest.raises(DatasetError, match="dataset 'empty' has no feature columns"):
        Dataset.from_frame("empty", pd.DataFrame(index=range(3)), ["a", "b", "a"])


def test_single_class_raises():
    with pytest.raises(
        DatasetError,
        match=re.escape(
            "dataset 'cases-only' has a single class 'tumour' in all 5 rows"
        ),
    ):
        Dataset.from_frame("cases-only", numeric_frame(5), ["tumour"] * 5)


def test_default_positive_is_minority_class():
    labels = ["alive", "dead", "alive", "alive", "dead", "alive"]

    dataset = Dataset.from_frame("survival", numeric_frame(6), labels)

    assert dataset.positive == 1
    assert dataset.class_names[dataset.positive] == "dead"


def test_default_positive_when_minority_sorts_first():
    labels = ["normal", "cancer", "normal", "normal", "normal"]

    dataset = Dataset.from_frame("screening", numeric_frame(5), labels)

    assert dataset.positive == 0
    assert dataset.class_names[0] == "cancer"


def test_default_positive_tie_takes_first_label():
    dataset = Dataset.from_frame("balanced", numeric_frame(4), ["b", "a", "b", "a"])

    assert dataset.positive == 0


def test_explicit_positive_selects_class():
    labels = ["alive", "dead", "alive", "alive", "dead", "alive"]

    dataset = Dataset.from_frame("survival", numeric_frame(6), labels, positive="alive")

    assert dataset.positive == 0


def test_unknown_positive_raises():
    with pytest.raises(
        DatasetError,
        match=re.escape(
            "dataset 'survival': positive class 'deceased' is not one of the "
            "classes ['alive', 'dead']."
        ),
    ):
        Dataset.from_frame(
            "survival", numeric_frame(4), ["alive", "dead"] * 2, positive="deceased"
        )


def test_class_counts_and_task():
    labels = ["a"] * 3 + ["b"] * 2 + ["c"]

    dataset = Dataset.from_frame("three", numeric_frame(6), labels)

    assert dataset.class_counts == {"a": 3, "b": 2, "c": 1}
    assert dataset.n_classes == 3
    assert dataset.task == "multiclass"


def test_validated_rejects_text_features_built_directly():
    X = pd.DataFrame({"gene": ["high", "low", "high", "low"]})
    dataset = Dataset("direct", X, np.array([0, 1, 0, 1]), ("a", "b"))

    with pytest.raises(DatasetError, match=r"feature column\(s\) 'gene'"):
        dataset.validated()


def test_validated_rejects_codes_outside_class_names():
    dataset = Dataset("direct", numeric_frame(4), np.array([0, 1, 2, 1]), ("a", "b"))

    with pytest.raises(DatasetError, match=r"integer class codes in 0\.\.1"):
        dataset.validated()


def test_validated_keeps_a_valid_dataset():
    dataset = Dataset("direct", numeric_frame(4), np.array([0, 1, 0, 1]), ("a", "b"))

    assert dataset.validated().y.tolist() == [0, 1, 0, 1]
