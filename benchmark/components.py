"""What plugins contribute: samplers, datasets, classifiers and metrics.

Each contribution is a small frozen spec with a unique ``name``. Specs hold
factories rather than fitted objects, so a task can build a fresh estimator in
whichever process runs it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmark.errors import DatasetError

__all__ = [
    "ClassifierSpec",
    "Dataset",
    "DatasetSpec",
    "MetricSpec",
    "SamplerSpec",
]


@dataclass(frozen=True)
class SamplerSpec:
    """An oversampler the harness can run.

    ``factory(random_state=int, **params)`` returns an object with an
    imbalanced-learn style ``fit_resample(X, y)``. ``params`` are the defaults;
    users override them on the command line as ``name:key=value``.
    ``min_class_size(params)`` returns the smallest class size in a training
    fold that the sampler can handle, so impossible folds are reported before
    dispatch.
    """

    name: str
    factory: Callable[..., Any]
    description: str
    params: Mapping[str, Any] = field(default_factory=dict)
    supports_multiclass: bool = True
    uses_torch: bool = False
    can_use_gpu: bool = False
    needs_scaled_input: bool = True
    min_class_size: Callable[[Mapping[str, Any]], int] | None = None


@dataclass(frozen=True)
class ClassifierSpec:
    """A classifier with ``fit`` and ``predict_proba``, built per task.

    ``factory(random_state=int, **params)`` returns a scikit-learn estimator.
    """

    name: str
    factory: Callable[..., Any]
    description: str
    params: Mapping[str, Any] = field(default_factory=dict)
    uses_torch: bool = False
    can_use_gpu: bool = False


@dataclass(frozen=True)
class MetricSpec:
    """A score computed on one test fold.

    ``function(y_true, y_proba, y_pred, positive)`` receives integer class codes
    ``y_true`` and ``y_pred`` of shape (n_samples,), class probabilities
    ``y_proba`` of shape (n_samples, n_classes), and the code of the positive
    class for binary tasks. It returns a float, or raises
    :class:`~benchmark.errors.UndefinedMetricError` with the reason when the
    metric has no value on that fold. ``tasks`` lists which of ``"binary"`` and
    ``"multiclass"`` the metric applies to.
    """

    name: str
    function: Callable[[np.ndarray, np.ndarray, np.ndarray, int], float]
    description: str
    tasks: frozenset[str] = frozenset({"binary", "multiclass"})
    greater_is_better: bool = True


@dataclass(frozen=True)
class Dataset:
    """A loaded, validated classification dataset.

    Attributes
    ----------
    name : str
        The name the dataset is registered under.
    X : pandas.DataFrame of shape (n_samples, n_features)
        Numeric features without missing values.
    y : numpy.ndarray of shape (n_samples,)
        Integer class codes ``0 .. n_classes - 1``.
    class_names : tuple of str
        ``class_names[code]`` is the label of class ``code``.
    positive : int
        Code of the positive class in binary tasks (by convention the minority
        class); ignored for multiclass tasks.
    provenance : mapping
        Source, accession, citation, licence and label definition.
    """

    name: str
    X: pd.DataFrame
    y: np.ndarray
    class_names: tuple[str, ...]
    positive: int = 1
    provenance: Mapping[str, str] = field(default_factory=dict)

    @property
    def n_classes(self) -> int:
        return len(self.class_names)

    @property
    def task(self) -> str:
        return "binary" if self.n_classes == 2 else "multiclass"

    @property
    def class_counts(self) -> dict[str, int]:
        counts = np.bincount(self.y, minlength=self.n_classes)
        return {name: int(n) for name, n in zip(self.class_names, counts, strict=False)}

    def validated(self) -> Dataset:
        """Return this dataset after checking features, codes and class names.

        Raises
        ------
        DatasetError
            When a feature is not numeric or not finite, the label codes are
            not ``0 .. n_classes - 1``, or fewer than two classes have rows.
        """
        X = _validate_features(self.name, self.X)
        y = np.asarray(self.y)
        codes = np.arange(len(self.class_names))
        if len(y) != len(X) or not np.isin(y, codes).all():
            raise DatasetError(
                f"dataset {self.name!r}: y must hold {len(X)} integer class codes "
                f"in 0..{len(codes) - 1}, one per row of X, matching class_names "
                f"{list(self.class_names)}. Build the dataset with "
                "Dataset.from_frame(name, X, labels)."
            )
        if np.unique(y).size < 2:
            raise DatasetError(
                f"dataset {self.name!r} has rows of a single class; a "
                "classification benchmark needs at least two classes."
            )
        return replace(self, X=X, y=y.astype(np.int64))

    @classmethod
    def from_frame(
        cls,
        name: str,
        X: pd.DataFrame,
        y: pd.Series | np.ndarray,
        *,
        positive: str | None = None,
        provenance: Mapping[str, str] | None = None,
    ) -> Dataset:
        """Validate features and labels and encode the labels as class codes.

        Labels may be strings, numbers or a pandas nullable type. Classes are
        ordered by their label: numerically when every label is a number,
        otherwise by text. ``positive`` names the positive class; by
        default it is the smallest class (ties broken by label order).

        Raises
        ------
        DatasetError
            When a feature column is not numeric, a value is missing or not
            finite, a label is missing, or fewer than two classes remain.
        """
        X = _validate_features(name, X)
        labels = _validate_labels(name, y, len(X))

        class_names = tuple(_sorted_labels(labels.unique()))
        if len(class_names) < 2:
            raise DatasetError(
                f"dataset {name!r} has a single class {class_names[0]!r} in all "
                f"{len(labels)} rows; a classification benchmark needs at least two "
                "classes. Check the label column or the label definition."
            )
        codes = {label: code for code, label in enumerate(class_names)}
        y_codes = labels.map(codes).to_numpy(dtype=np.int64)
        names = tuple(str(label) for label in class_names)

        if positive is None:
            counts = np.bincount(y_codes, minlength=len(names))
            positive_code = int(np.argmin(counts))
        elif positive in names:
            positive_code = names.index(positive)
        else:
            raise DatasetError(
                f"dataset {name!r}: positive class {positive!r} is not one of the "
                f"classes {list(names)}."
            )

        return cls(
            name=name,
            X=X,
            y=y_codes,
            class_names=names,
            positive=positive_code,
            provenance=dict(provenance or {}),
        )


@dataclass(frozen=True)
class DatasetSpec:
    """A dataset a plugin can load.

    ``loader(data_dir)`` returns a :class:`Dataset`; ``data_dir`` is the
    directory the user chose for files they downloaded themselves (one folder
    per dataset). ``suites`` are group names such as ``"omics"`` under which
    the dataset can also be selected. ``missing_files(data_dir)`` returns the
    names of required files that are absent, so a run fails before any
    training when data is missing. ``shape`` and ``class_counts`` describe the
    data without loading it, when the plugin can give them.
    """

    name: str
    loader: Callable[[Path], Dataset]
    description: str
    suites: tuple[str, ...] = ()
    missing_files: Callable[[Path], list[str]] | None = None
    shape: tuple[int, int] | None = None
    class_counts: Mapping[str, int] | None = None


def _sorted_labels(values: np.ndarray) -> list:
    """Sort labels numerically when all are numbers, else by their text."""
    values = list(values)
    if all(isinstance(v, (int, float, np.number)) for v in values):
        return sorted(values)
    return sorted(values, key=str)


def _validate_features(name: str, X: pd.DataFrame) -> pd.DataFrame:
    if not isinstance(X, pd.DataFrame):
        X = pd.DataFrame(np.asarray(X))
        X.columns = [f"x{i}" for i in range(X.shape[1])]
    if X.shape[1] == 0:
        raise DatasetError(f"dataset {name!r} has no feature columns.")

    non_numeric = [
        str(column)
        for column, dtype in X.dtypes.items()
        if not (
            pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype)
        )
    ]
    if non_numeric:
        shown = ", ".join(repr(c) for c in non_numeric[:5])
        more = f" and {len(non_numeric) - 5} more" if len(non_numeric) > 5 else ""
        raise DatasetError(
            f"dataset {name!r}: feature column(s) {shown}{more} are not numeric. "
            "Encode them as numbers (for example one-hot with pandas.get_dummies) "
            "or drop them before the dataset is registered."
        )

    values = X.to_numpy(dtype=np.float64, na_value=np.nan)
    bad = ~np.isfinite(values)
    if bad.any():
        per_column = bad.sum(axis=0)
        columns = [
            f"{X.columns[j]!r} ({per_column[j]} rows)"
            for j in np.flatnonzero(per_column)
        ]
        shown = ", ".join(columns[:5])
        more = f" and {len(columns) - 5} more" if len(columns) > 5 else ""
        raise DatasetError(
            f"dataset {name!r}: missing or infinite values in column(s) {shown}{more}. "
            "Impute them (for example sklearn.impute.SimpleImputer) or drop the "
            "affected rows or columns; oversamplers cannot interpolate missing values."
        )
    return pd.DataFrame(values, index=X.index, columns=[str(c) for c in X.columns])


def _validate_labels(name: str, y: pd.Series | np.ndarray, n_rows: int) -> pd.Series:
    labels = y if isinstance(y, pd.Series) else pd.Series(np.asarray(y))
    labels = labels.reset_index(drop=True)
    if len(labels) != n_rows:
        raise DatasetError(
            f"dataset {name!r}: {n_rows} feature rows but {len(labels)} labels."
        )

    missing = labels.isna().to_numpy()
    if missing.any():
        rows = np.flatnonzero(missing)[:5].tolist()
        raise DatasetError(
            f"dataset {name!r}: {int(missing.sum())} label(s) are missing "
            f"(first at row positions {rows}). Drop those rows or give them a "
            "class before registering the dataset."
        )
    return labels.astype(object).map(lambda v: v.item() if hasattr(v, "item") else v)
