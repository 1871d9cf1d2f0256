"""Conformance checks for dataset plugins."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmark.components import Dataset, DatasetSpec
from benchmark.testing._common import (
    REQUIRED_PROVENANCE,
    CheckFailure,
    DataFilesMissing,
    _check_component_name,
    _conformance_error,
    _describe,
    _raise_failures,
)

# --- Dataset checks -------------------------------------------------------------

DATASET_FIX = (
    "build the Dataset with benchmark.Dataset.from_frame, which validates the "
    "features and encodes the labels as class codes."
)
PROVENANCE_FIX = (
    "pass provenance= to Dataset.from_frame with non-empty strings for "
    + ", ".join(REQUIRED_PROVENANCE)
    + " (optional keys such as accession may be added)."
)


def _feature_problems(X: Any) -> list[str]:
    if not isinstance(X, pd.DataFrame):
        return [f"X is a {type(X).__name__}, not a pandas DataFrame"]
    problems = []
    if X.shape[1] == 0:
        problems.append("X has no columns")
    if X.shape[0] == 0:
        problems.append("X has no rows")
    non_numeric = [
        str(column)
        for column, dtype in X.dtypes.items()
        if not pd.api.types.is_numeric_dtype(dtype)
    ]
    if non_numeric:
        problems.append(f"columns {non_numeric[:5]} are not numeric")
    elif not np.isfinite(X.to_numpy(dtype=np.float64, na_value=np.nan)).all():
        problems.append("X contains NaN or infinite values")
    not_text = [column for column in X.columns if not isinstance(column, str)]
    if not_text:
        problems.append(f"column names {not_text[:5]} are not strings")
    duplicated = X.columns[X.columns.duplicated()].tolist()
    if duplicated:
        problems.append(f"column names {duplicated[:5]} occur more than once")
    return problems


def _label_problems(dataset: Dataset) -> list[str]:
    y, names = dataset.y, dataset.class_names
    if not isinstance(y, np.ndarray) or y.ndim != 1:
        return [f"y is a {type(y).__name__} of shape {np.shape(y)}, not a 1-D array"]
    problems = []
    if not np.issubdtype(y.dtype, np.integer):
        problems.append(f"y has dtype {y.dtype}, not integer class codes")
    if isinstance(dataset.X, pd.DataFrame) and len(y) != len(dataset.X):
        problems.append(f"y has {len(y)} labels for {len(dataset.X)} rows")
    if problems:
        return problems
    outside = sorted(set(np.unique(y).tolist()) - set(range(len(names))))
    if outside:
        problems.append(
            f"y contains codes {outside[:5]} outside 0..{len(names) - 1}, the range "
            "class_names defines"
        )
    else:
        counts = np.bincount(y, minlength=len(names))
        empty = [names[code] for code in np.flatnonzero(counts == 0)]
        if empty:
            problems.append(f"classes {empty} have no rows")
    return problems


def _class_name_problems(dataset: Dataset) -> list[str]:
    names = dataset.class_names
    if not isinstance(names, tuple) or not all(
        isinstance(name, str) and name for name in names
    ):
        return [f"class_names {names!r} is not a tuple of non-empty strings"]
    problems = []
    if len(names) < 2:
        problems.append(f"class_names {names!r} has fewer than two classes")
    if len(set(names)) != len(names):
        problems.append(f"class_names {names!r} contains duplicates")
    positive = dataset.positive
    if isinstance(positive, bool) or not isinstance(positive, (int, np.integer)):
        problems.append(f"positive={positive!r} is not an int class code")
    elif not 0 <= positive < len(names):
        problems.append(f"positive={positive} is not a code of class_names")
    return problems


def _provenance_problems(provenance: Any) -> list[str]:
    if not isinstance(provenance, Mapping):
        return [f"provenance is a {type(provenance).__name__}, not a mapping"]
    problems = []
    missing = [
        key
        for key in REQUIRED_PROVENANCE
        if not isinstance(provenance.get(key), str) or not provenance[key].strip()
    ]
    if missing:
        problems.append(f"provenance lacks non-empty {missing}")
    not_text = [key for key, value in provenance.items() if not isinstance(value, str)]
    if not_text:
        problems.append(
            f"provenance values of {not_text} are not strings (run.json stores them)"
        )
    return problems


def _dataset_failures(dataset: Any) -> list[CheckFailure]:
    if not isinstance(dataset, Dataset):
        return [
            CheckFailure(
                "type",
                f"the loader returned {type(dataset).__name__}, not benchmark.Dataset.",
                DATASET_FIX,
            )
        ]
    failures = []
    for check, problems, fix in (
        ("features", _feature_problems(dataset.X), DATASET_FIX),
        ("labels", _label_problems(dataset), DATASET_FIX),
        ("class-names", _class_name_problems(dataset), DATASET_FIX),
        ("provenance", _provenance_problems(dataset.provenance), PROVENANCE_FIX),
    ):
        if problems:
            failures.append(CheckFailure(check, "; ".join(problems) + ".", fix))
    return failures


def check_dataset(dataset: Dataset, *, plugin: str | None = None) -> None:
    """Check a loaded dataset: numeric features, class codes, names, provenance.

    Raises
    ------
    ConformanceError
        With one line per failed check.
    """
    name = getattr(dataset, "name", "?")
    failures = [(failure, None) for failure in _dataset_failures(dataset)]
    _raise_failures(_describe("dataset", name, plugin), failures, 5)


def _spec_problems(spec: DatasetSpec) -> list[str]:
    problems = _check_component_name(spec.name, "dataset")
    if not isinstance(spec.description, str) or not spec.description.strip():
        problems.append("description is empty; `bench list datasets` shows it")
    if not callable(spec.loader):
        problems.append(f"loader {spec.loader!r} is not callable")
    if not isinstance(spec.suites, tuple) or not all(
        isinstance(suite, str) and not _check_component_name(suite, "dataset")
        for suite in spec.suites
    ):
        problems.append(f"suites {spec.suites!r} is not a tuple of valid names")
    if spec.missing_files is not None and not callable(spec.missing_files):
        problems.append(f"missing_files {spec.missing_files!r} is not callable")
    return problems


def check_dataset_spec(
    spec: DatasetSpec, data_dir: str | Path, *, plugin: str | None = None
) -> Dataset:
    """Check a dataset spec, load the dataset from ``data_dir`` and check it.

    Besides :func:`check_dataset`, the spec's fields must be valid, the loaded
    dataset must carry the spec's name, and a declared ``shape`` or
    ``class_counts`` must match the loaded data.

    Returns
    -------
    Dataset
        The loaded dataset.

    Raises
    ------
    DataFilesMissing
        When the spec's ``missing_files`` lists files absent from ``data_dir``.
        Tests usually skip on it, because users download those files.
    ConformanceError
        When a check fails, or the loader raises.
    """
    data_dir = Path(data_dir)
    subject = _describe("dataset", getattr(spec, "name", "?"), plugin)
    problems = _spec_problems(spec)
    if problems:
        failure = CheckFailure(
            "declaration",
            "; ".join(problems) + ".",
            "correct the DatasetSpec fields listed (see docs/plugins.md).",
        )
        _raise_failures(subject, [(failure, None)], 1)

    if spec.missing_files is not None:
        missing = spec.missing_files(data_dir)
        if not isinstance(missing, list) or not all(
            isinstance(path, str) for path in missing
        ):
            failure = CheckFailure(
                "missing-files",
                f"missing_files({data_dir}) returned {missing!r}, not a list of str.",
                "return the names of the required files that are absent, or [].",
            )
            _raise_failures(subject, [(failure, None)], 1)
        if missing:
            raise DataFilesMissing(spec.name, missing, data_dir)

    try:
        dataset = spec.loader(data_dir)
    except Exception as exc:
        failure = CheckFailure(
            "load",
            f"loader({data_dir}) raised {type(exc).__name__}: {exc}",
            "make the loader work on this data directory, or list the files it "
            "needs in missing_files so that a run stops before training.",
        )
        raise _conformance_error(subject, [failure], 1) from exc

    failures = _dataset_failures(dataset)
    if isinstance(dataset, Dataset):
        failures.extend(_declared_failures(spec, dataset))
    _raise_failures(subject, [(failure, None) for failure in failures], 7)
    return dataset


def _declared_failures(spec: DatasetSpec, dataset: Dataset) -> list[CheckFailure]:
    failures = []
    if dataset.name != spec.name:
        failures.append(
            CheckFailure(
                "name",
                f"the loader returned a dataset named {dataset.name!r}.",
                f"pass name={spec.name!r} to Dataset.from_frame.",
            )
        )
    if spec.shape is not None and tuple(spec.shape) != dataset.X.shape:
        failures.append(
            CheckFailure(
                "declared-shape",
                f"the spec declares shape {tuple(spec.shape)}, the loaded X has "
                f"{dataset.X.shape}.",
                "correct DatasetSpec.shape or leave it None.",
            )
        )
    if spec.class_counts is not None:
        declared = {str(key): int(value) for key, value in spec.class_counts.items()}
        if declared != dataset.class_counts:
            failures.append(
                CheckFailure(
                    "declared-counts",
                    f"the spec declares class counts {declared}, the loaded data "
                    f"has {dataset.class_counts}.",
                    "correct DatasetSpec.class_counts, keyed by class name, or "
                    "leave it None.",
                )
            )
    return failures
