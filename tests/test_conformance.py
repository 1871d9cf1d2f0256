"""The conformance kit: built-in samplers and datasets pass it, broken ones fail it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fixtures_clinical import write_adni, write_legacy_tcga
from imblearn.over_sampling import SMOTE
from imblearn.over_sampling.base import BaseOverSampler
from sklearn.utils import check_random_state

from benchmark import Dataset, DatasetSpec, SamplerSpec
from benchmark.plugins import BUILTIN_PLUGINS, load_registry
from benchmark.testing import (
    REQUIRED_PROVENANCE,
    SAMPLER_CHECKS,
    ConformanceError,
    DataFilesMissing,
    check_dataset,
    check_dataset_spec,
    check_sampler,
    dataset_cases,
    sampler_cases,
)

REPOSITORY = Path(__file__).resolve().parent.parent
DATA_DIR = REPOSITORY / "datasets"
LEO_CVAE_PLUGIN = "leo_cvae_plugin.plugin"

# Built-in plugins and LEO-CVAE by module name, so the test does not depend on
# which entry points happen to be installed.
REGISTRY = load_registry((*BUILTIN_PLUGINS, LEO_CVAE_PLUGIN), use_entry_points=False)
LEO_CVAE_SAMPLERS = next(
    info.contributes["samplers"]
    for info in REGISTRY.plugins
    if info.name == LEO_CVAE_PLUGIN
)

SAMPLER_OPTIONS = {
    # ADASYN rounds the rows to generate per minority row, so the total can
    # differ from the request by a few rows.
    "adasyn": {"count_tolerance": 0.1},
    # SVM-SMOTE splits the request between support vectors in danger and safe
    # ones and generates only one share when either group is empty.
    "svm-smote": {"count_tolerance": 0.5},
    # KMeans-SMOTE rounds up the rows per cluster.
    "kmeans-smote": {
        "count_tolerance": 0.1,
        "skip": {
            "min-class-size": "min_class_size covers k_neighbors only: with 3 "
            "minority rows no KMeans cluster passes cluster_balance_threshold"
        },
    },
    # 500 epochs by default; 20 keep the checks under a second per sampler.
    **{name: {"params": {"epochs": 20}} for name in LEO_CVAE_SAMPLERS},
}

OMICS_DATASETS = ("gse7390", "gse7390-grade", "dbcd", "dlbcl", "gse4335")
KEEL_DATASETS = ("keel-ecoli1", "keel-glass0", "keel-yeast4")
# Skipped unless the user downloaded their files into datasets/.
DOWNLOADED_DATASETS = ("tcga", "tcga-landmark", "tcga-pfi", "adni")


def test_registry_has_every_builtin_sampler():
    assert {"none", "smote", "adasyn", "kmeans-smote"} <= set(REGISTRY.samplers)
    assert set(LEO_CVAE_SAMPLERS) == {
        "leo-cvae",
        "cvae",
        "leo-cvae-lewl-only",
        "leo-cvae-sampling-only",
    }


@pytest.mark.parametrize("case", sampler_cases(REGISTRY, options=SAMPLER_OPTIONS))
def test_builtin_sampler_conforms(case):
    case.run()


@pytest.mark.parametrize(
    "case",
    dataset_cases(
        REGISTRY,
        DATA_DIR,
        names=OMICS_DATASETS + KEEL_DATASETS + DOWNLOADED_DATASETS,
    ),
)
def test_builtin_dataset_conforms(case):
    case.run()


@pytest.fixture(scope="module")
def clinical_data_dir(tmp_path_factory) -> Path:
    """Small TCGA and ADNI files in the layout users download."""
    data_dir = tmp_path_factory.mktemp("clinical")
    write_legacy_tcga(data_dir)
    write_adni(data_dir)
    return data_dir


@pytest.mark.parametrize(
    "name",
    list(DOWNLOADED_DATASETS),
)
def test_downloaded_dataset_conforms_on_fixture_files(name, clinical_data_dir):
    check_dataset_spec(REGISTRY.dataset(name), clinical_data_dir)


# --- Samplers that break one rule each -----------------------------------------


class Duplicator(BaseOverSampler):
    """Balances classes with copies of random rows; passes every check."""

    _parameter_constraints: dict = {
        **BaseOverSampler._parameter_constraints,
        "random_state": ["random_state"],
    }

    def __init__(self, *, sampling_strategy="auto", random_state=None):
        super().__init__(sampling_strategy=sampling_strategy)
        self.random_state = random_state

    def _picks(self, y):
        rng = check_random_state(self.random_state)
        return [
            rng.choice(np.flatnonzero(y == code), size=n_new)
            for code, n_new in self.sampling_strategy_.items()
        ]

    def _fit_resample(self, X, y):
        rows = np.concatenate([np.arange(len(y)), *self._picks(y)])
        return X[rows], y[rows]


class HalfCounts(Duplicator):
    def _fit_resample(self, X, y):
        picks = [pick[: len(pick) // 2] for pick in self._picks(y)]
        rows = np.concatenate([np.arange(len(y)), *picks])
        return X[rows], y[rows]


class SortedByClass(Duplicator):
    def _fit_resample(self, X, y):
        X_out, y_out = super()._fit_resample(X, y)
        order = np.argsort(y_out, kind="stable")
        return X_out[order], y_out[order]


class NaNRows(Duplicator):
    def _fit_resample(self, X, y):
        X_out, y_out = super()._fit_resample(X, y)
        X_out[-3:] = np.nan
        return X_out, y_out


class DropsColumn(Duplicator):
    def _fit_resample(self, X, y):
        X_out, y_out = super()._fit_resample(X, y)
        return X_out[:, :-1], y_out


class Float32Output(Duplicator):
    def _fit_resample(self, X, y):
        X_out, y_out = super()._fit_resample(X, y)
        return X_out.astype(np.float32), y_out


class ArraysForPandas(Duplicator):
    def fit_resample(self, X, y):
        X_out, y_out = super().fit_resample(X, y)
        return np.asarray(X_out), np.asarray(y_out)


class GlobalRandom(Duplicator):
    def _fit_resample(self, X, y):
        picks = [
            np.random.choice(np.flatnonzero(y == code), size=n_new)
            for code, n_new in self.sampling_strategy_.items()
        ]
        rows = np.concatenate([np.arange(len(y)), *picks])
        return X[rows], y[rows]


class IgnoresRandomState(Duplicator):
    def _picks(self, y):
        rng = np.random.RandomState(0)
        return [
            rng.choice(np.flatnonzero(y == code), size=n_new)
            for code, n_new in self.sampling_strategy_.items()
        ]


class AcceptsSingleClass(Duplicator):
    def fit_resample(self, X, y):
        if len(np.unique(y)) < 2:
            return X, y
        return super().fit_resample(X, y)


class RuntimeErrorOnSingleClass(Duplicator):
    def fit_resample(self, X, y):
        if len(np.unique(y)) < 2:
            raise RuntimeError("nothing to do")
        return super().fit_resample(X, y)


class BinaryOnly(Duplicator):
    def fit_resample(self, X, y):
        if len(np.unique(y)) > 2:
            raise ValueError("BinaryOnly supports two classes")
        return super().fit_resample(X, y)


def failed_checks(error: ConformanceError) -> set[str]:
    return {failure.check for failure in error.failures}


def test_conforming_factory_passes():
    outcomes = check_sampler(Duplicator)

    assert list(outcomes) == list(SAMPLER_CHECKS)
    assert outcomes["binary-counts"] == "passed"
    assert outcomes["min-class-size"] == "skipped: the spec declares no min_class_size"


BROKEN_SAMPLERS = {
    HalfCounts: {"binary-counts", "multiclass-counts", "requested-counts"},
    SortedByClass: {"keeps-original-rows"},
    # Casting to float32 also changes the original rows.
    Float32Output: {"numpy-io", "keeps-original-rows"},
    ArraysForPandas: {"pandas-io"},
    GlobalRandom: {"reproducible"},
    IgnoresRandomState: {"reproducible"},
    AcceptsSingleClass: {"rejects-single-class"},
    RuntimeErrorOnSingleClass: {"rejects-single-class"},
}


@pytest.mark.parametrize(
    ("factory", "expected"),
    [
        pytest.param(factory, expected, id=factory.__name__)
        for factory, expected in BROKEN_SAMPLERS.items()
    ],
)
def test_broken_sampler_fails_its_check(factory, expected):
    with pytest.raises(ConformanceError) as caught:
        check_sampler(factory)

    assert failed_checks(caught.value) == expected


@pytest.mark.parametrize("factory", [NaNRows, DropsColumn])
def test_unusable_output_fails_finite_output(factory):
    with pytest.raises(ConformanceError) as caught:
        check_sampler(factory)

    assert "finite-output" in failed_checks(caught.value)


def test_failure_message_names_sampler_plugin_and_fix():
    spec = SamplerSpec(name="nan-rows", factory=NaNRows, description="broken")

    with pytest.raises(ConformanceError) as caught:
        check_sampler(spec, plugin="acme_samplers")

    message = str(caught.value)
    assert message.startswith("sampler 'nan-rows' of plugin 'acme_samplers' failed")
    assert "finite-output: fit_resample returned 3 row(s) with NaN" in message
    assert "Fix: return one finite row per label" in message


def test_failure_message_shows_wrong_counts():
    with pytest.raises(ConformanceError) as caught:
        check_sampler(HalfCounts)

    failure = next(f for f in caught.value.failures if f.check == "binary-counts")
    assert failure.problem.startswith("class 1: 20 rows generated, 40 requested")


def test_input_modified_in_place_is_reported():
    class ModifiesInput(Duplicator):
        def _fit_resample(self, X, y):
            X[0, 0] += 1.0
            return super()._fit_resample(X, y)

    with pytest.raises(ConformanceError) as caught:
        check_sampler(ModifiesInput)

    failure = next(f for f in caught.value.failures if f.check == "keeps-original-rows")
    assert failure.problem == "fit_resample modified its input arrays."


def test_count_tolerance_accepts_approximate_counts():
    check_sampler(HalfCounts, count_tolerance=0.5)


def test_count_tolerance_out_of_range_is_rejected():
    with pytest.raises(ValueError, match=r"count_tolerance must be in \[0, 1\)"):
        check_sampler(Duplicator, count_tolerance=1.5)


def test_deterministic_sampler_declares_it():
    with pytest.raises(ConformanceError):
        check_sampler(IgnoresRandomState)

    outcomes = check_sampler(IgnoresRandomState, deterministic=True)

    assert outcomes["reproducible"] == "passed"


def test_binary_only_sampler_skips_multiclass_checks():
    outcomes = check_sampler(BinaryOnly, supports_multiclass=False)

    assert outcomes["multiclass-counts"].startswith(
        "skipped: supports_multiclass=False"
    )
    assert outcomes["rejects-multiclass"] == "passed"
    assert outcomes["finite-output"] == "passed"


def test_binary_only_declaration_must_reject_multiclass():
    with pytest.raises(ConformanceError) as caught:
        check_sampler(Duplicator, supports_multiclass=False)

    assert failed_checks(caught.value) == {"rejects-multiclass"}
    assert "fit_resample accepted 3 classes" in str(caught.value)


def test_too_small_min_class_size_is_reported():
    def smote(random_state=None, **params):
        return SMOTE(random_state=random_state, **params)

    with pytest.raises(ConformanceError) as caught:
        check_sampler(smote, params={"k_neighbors": 5}, min_class_size=lambda p: 2)

    assert failed_checks(caught.value) == {"min-class-size"}
    assert "with a minority class of 2 rows" in str(caught.value)


def test_gpu_sampler_must_accept_device():
    with pytest.raises(ConformanceError) as caught:
        check_sampler(Duplicator, can_use_gpu=True, uses_torch=True)

    assert "device" in failed_checks(caught.value)
    assert "'device': 'cpu'" in str(caught.value)


def test_unscaled_input_runs_when_declared():
    outcomes = check_sampler(Duplicator, needs_scaled_input=False)

    assert outcomes["unscaled-input"] == "passed"


def test_unparseable_sampler_name_fails_declaration():
    spec = SamplerSpec(name="dup:v2", factory=Duplicator, description="copies")

    with pytest.raises(ConformanceError) as caught:
        check_sampler(spec)

    assert failed_checks(caught.value) == {"declaration"}
    assert "could not be parsed" in str(caught.value)


def test_skip_names_unknown_check():
    with pytest.raises(ValueError, match="unknown sampler check"):
        check_sampler(Duplicator, skip=["reproducibility"])


def test_capabilities_only_for_bare_factory():
    spec = SamplerSpec(name="dup", factory=Duplicator, description="copies")

    with pytest.raises(TypeError, match="already a SamplerSpec"):
        check_sampler(spec, supports_multiclass=False)


def test_sampler_cases_have_ids_and_skip_marks():
    spec = SamplerSpec(name="dup", factory=Duplicator, description="copies")

    cases = sampler_cases(spec, options={"dup": {"skip": ["reproducible"]}})

    assert [case.id for case in cases] == [f"dup-{name}" for name in SAMPLER_CHECKS]
    skipped = {case.id for case in cases if case.marks}
    assert skipped == {
        "dup-rejects-multiclass",
        "dup-reproducible",
        "dup-min-class-size",
        "dup-unscaled-input",
        "dup-device",
    }


def test_sampler_cases_reject_unknown_options():
    spec = SamplerSpec(name="dup", factory=Duplicator, description="copies")

    with pytest.raises(ValueError, match="not selected"):
        sampler_cases(spec, options={"smote": {}})
    with pytest.raises(ValueError, match="invalid options"):
        sampler_cases(spec, options={"dup": {"epochs": 20}})


def test_sampler_case_reports_one_failure():
    spec = SamplerSpec(name="sorted", factory=SortedByClass, description="sorted")
    case = next(
        param.values[0]
        for param in sampler_cases(spec, options={})
        if param.id == "sorted-keeps-original-rows"
    )

    with pytest.raises(ConformanceError, match=r"^sampler 'sorted' failed 1 of 1"):
        case.run()


# --- Datasets --------------------------------------------------------------------

PROVENANCE = {
    "source": "generated by tests/conftest.py",
    "citation": "none",
    "licence": "CC0",
    "label_definition": "tumour vs normal tissue",
}


def with_provenance(dataset: Dataset) -> Dataset:
    return Dataset.from_frame(
        dataset.name,
        dataset.X,
        np.asarray(dataset.class_names)[dataset.y],
        provenance=PROVENANCE,
    )


def spec_for(dataset: Dataset, **fields) -> DatasetSpec:
    settings = {"description": "test data", **fields}
    return DatasetSpec(name=dataset.name, loader=lambda data_dir: dataset, **settings)


def test_dataset_with_provenance_passes(binary_dataset, tmp_path):
    dataset = with_provenance(binary_dataset)

    loaded = check_dataset_spec(
        spec_for(dataset, shape=(120, 8), class_counts={"normal": 90, "tumour": 30}),
        tmp_path,
    )

    assert loaded is dataset


def test_dataset_without_provenance_names_keys(binary_dataset):
    with pytest.raises(ConformanceError) as caught:
        check_dataset(binary_dataset, plugin="acme_data")

    message = str(caught.value)
    assert message.startswith("dataset 'toy-expression' of plugin 'acme_data' failed")
    assert f"provenance lacks non-empty {list(REQUIRED_PROVENANCE)}" in message


def test_float_labels_fail_labels_check(binary_dataset):
    dataset = Dataset(
        name="floats",
        X=binary_dataset.X,
        y=binary_dataset.y.astype(float),
        class_names=binary_dataset.class_names,
        provenance=PROVENANCE,
    )

    with pytest.raises(ConformanceError) as caught:
        check_dataset(dataset)

    assert failed_checks(caught.value) == {"labels"}
    assert "dtype float64, not integer class codes" in str(caught.value)


def test_codes_outside_class_names_fail(binary_dataset):
    dataset = Dataset(
        name="three-codes",
        X=binary_dataset.X,
        y=np.where(binary_dataset.y == 1, 2, 0),
        class_names=binary_dataset.class_names,
        provenance=PROVENANCE,
    )

    with pytest.raises(ConformanceError, match=r"codes \[2\] outside 0\.\.1"):
        check_dataset(dataset)


def test_non_numeric_features_fail(binary_dataset):
    X = binary_dataset.X.assign(site=["a"] * len(binary_dataset.X))
    dataset = Dataset(
        name="text-column",
        X=X,
        y=binary_dataset.y,
        class_names=binary_dataset.class_names,
        provenance=PROVENANCE,
    )

    with pytest.raises(ConformanceError, match=r"columns \['site'\] are not numeric"):
        check_dataset(dataset)


def test_declared_shape_and_counts_must_match(binary_dataset, tmp_path):
    spec = spec_for(
        with_provenance(binary_dataset),
        shape=(121, 8),
        class_counts={"normal": 91, "tumour": 30},
    )

    with pytest.raises(ConformanceError) as caught:
        check_dataset_spec(spec, tmp_path)

    assert failed_checks(caught.value) == {"declared-shape", "declared-counts"}


def test_loader_name_must_match_spec(binary_dataset, tmp_path):
    dataset = with_provenance(binary_dataset)
    spec = DatasetSpec(name="other", loader=lambda d: dataset, description="x")

    with pytest.raises(ConformanceError, match="pass name='other'"):
        check_dataset_spec(spec, tmp_path)


def test_loader_returning_frame_is_reported(tmp_path):
    spec = DatasetSpec(name="frame", loader=lambda d: pd.DataFrame(), description="x")

    with pytest.raises(ConformanceError, match="returned DataFrame, not benchmark"):
        check_dataset_spec(spec, tmp_path)


def test_raising_loader_is_reported_with_cause(tmp_path):
    def loader(data_dir):
        raise OSError(f"{data_dir / 'table.csv'} is not readable")

    spec = DatasetSpec(name="unreadable", loader=loader, description="x")

    with pytest.raises(ConformanceError, match="raised OSError") as caught:
        check_dataset_spec(spec, tmp_path)

    assert isinstance(caught.value.__cause__, OSError)


def test_missing_files_raise_and_case_skips(tmp_path):
    spec = DatasetSpec(
        name="downloaded",
        loader=lambda d: None,
        description="x",
        missing_files=lambda d: ["expression.csv"],
    )

    with pytest.raises(DataFilesMissing, match="expression.csv") as caught:
        check_dataset_spec(spec, tmp_path)
    assert caught.value.files == ["expression.csv"]

    (case,) = dataset_cases(spec, tmp_path)
    with pytest.raises(pytest.skip.Exception, match="expression.csv"):
        case.values[0].run()
