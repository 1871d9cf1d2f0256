"""execute_task on a registered test dataset: scores, failures, notes and leakage."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from sklearn.dummy import DummyClassifier
from sklearn.preprocessing import StandardScaler

from benchmark import (
    ClassifierSpec,
    Dataset,
    DatasetSpec,
    SamplerSpec,
    evaluation,
    hookimpl,
)
from benchmark.evaluation import execute_task, fold_selection, select_features
from benchmark.plugins import load_registry
from benchmark.tasks import (
    RunConfig,
    build_tasks,
    derive_seed,
    iter_splits,
    parse_choice,
)

COMPONENT_PLUGINS = (
    "plugins.imblearn_samplers",
    "plugins.classifiers",
    "plugins.metrics",
)
BINARY = "toy-expression"
MULTICLASS = "toy-three-class"


class NaNRowsSampler:
    """Appends three minority rows of NaN, as a diverging generative model might."""

    def __init__(self, random_state=None):
        self.random_state = random_state

    def fit_resample(self, X, y):
        rows = np.full((3, X.shape[1]), np.nan)
        return np.vstack([X, rows]), np.r_[y, [1, 1, 1]]


class DropColumnSampler:
    """Returns the features without their last column."""

    def __init__(self, random_state=None):
        self.random_state = random_state

    def fit_resample(self, X, y):
        return X[:, :-1], y


class UnknownLabelSampler:
    """Labels its single synthetic row with a class code the fold does not have."""

    def __init__(self, random_state=None):
        self.random_state = random_state

    def fit_resample(self, X, y):
        return np.vstack([X, X[:1]]), np.r_[y, [7]]


class HalfSampler:
    """Duplicates minority rows until half of the rows that balance would need.

    Like SVM-SMOTE on some folds, it declares ``sampling_strategy="auto"`` but
    generates fewer rows than that strategy requests.
    """

    sampling_strategy = "auto"

    def __init__(self, random_state=None):
        self.random_state = random_state

    def fit_resample(self, X, y):
        counts = np.bincount(y)
        minority = int(np.argmin(counts))
        n_new = (counts.max() - counts.min()) // 2
        rows = np.flatnonzero(y == minority)[:n_new]
        return np.vstack([X, X[rows]]), np.r_[y, y[rows]]


class EvaluationPlugin:
    """Registers the test datasets, the faulty samplers and a spy sampler."""

    def __init__(self, datasets: list[Dataset]):
        self.datasets = datasets
        self.received: list[tuple[np.ndarray, np.ndarray]] = []

    def spy(self, random_state=None):
        received = self.received

        class SpySampler:
            def fit_resample(self, X, y):
                received.append((X.copy(), y.copy()))
                return X, y

        return SpySampler()

    @hookimpl
    def bench_register_datasets(self) -> list[DatasetSpec]:
        return [
            DatasetSpec(
                name=dataset.name,
                loader=lambda data_dir, dataset=dataset: dataset,
                description="seeded test data",
            )
            for dataset in self.datasets
        ]

    @hookimpl
    def bench_register_samplers(self) -> list[SamplerSpec]:
        samplers = {
            "nan-rows": NaNRowsSampler,
            "drop-column": DropColumnSampler,
            "unknown-label": UnknownLabelSampler,
            "half": HalfSampler,
            "spy": self.spy,
        }
        return [
            SamplerSpec(name=name, factory=factory, description="test sampler")
            for name, factory in samplers.items()
        ]

    @hookimpl
    def bench_register_classifiers(self) -> list[ClassifierSpec]:
        def constant(random_state=None):
            return DummyClassifier(strategy="prior", random_state=random_state)

        return [
            ClassifierSpec(
                name="constant",
                factory=constant,
                description="predicts the majority class",
            )
        ]


@pytest.fixture(scope="module")
def multiclass_dataset(multiclass_arrays) -> Dataset:
    X, y = multiclass_arrays
    labels = np.array(["luminal", "basal", "her2"])[y]
    frame = pd.DataFrame(X, columns=[f"GENE{i + 1}" for i in range(X.shape[1])])
    return Dataset.from_frame(MULTICLASS, frame, labels)


@pytest.fixture
def plugin(binary_dataset, multiclass_dataset) -> EvaluationPlugin:
    return EvaluationPlugin([binary_dataset, multiclass_dataset])


@pytest.fixture
def worker_registry(plugin, monkeypatch):
    """Make execute_task see the test plugin, with empty per-process caches."""
    registry = load_registry(COMPONENT_PLUGINS, extra=[plugin], use_entry_points=False)
    monkeypatch.setattr(evaluation, "worker_registry", lambda: registry)
    evaluation.load_dataset.cache_clear()
    evaluation._splits.cache_clear()
    yield registry
    evaluation.load_dataset.cache_clear()
    evaluation._splits.cache_clear()


def make_config(
    sampler: str = "smote", classifier: str = "logreg", **options
) -> RunConfig:
    settings = {"folds": 3, "repeats": 1, "n_features": 4, **options}
    return RunConfig(
        datasets=(BINARY,),
        samplers=(parse_choice(sampler),),
        classifiers=(parse_choice(classifier),),
        **settings,
    )


def run_first_task(dataset: Dataset, config: RunConfig):
    task = build_tasks(config, [dataset.name])[0]
    columns = fold_selection(dataset, config, task.repeat, task.fold)
    return execute_task(task, columns)


def first_split(dataset: Dataset, config: RunConfig):
    _, _, train, test = next(
        iter_splits(dataset, config.folds, config.repeats, config.seed)
    )
    return train, test


def metric_names(registry, task: str) -> list[str]:
    return [name for name, spec in registry.metrics.items() if task in spec.tasks]


# Scores


def test_binary_task_scores_every_binary_metric(worker_registry, binary_dataset):
    result = run_first_task(binary_dataset, make_config())

    assert result.status == "ok", result.error
    assert [name for name, _, _ in result.scores] == metric_names(
        worker_registry, "binary"
    )
    for name, value, reason in result.scores:
        assert isinstance(value, float), name
        assert reason == "", name


def test_multiclass_task_scores_every_multiclass_metric(
    worker_registry, multiclass_dataset
):
    config = dataclasses.replace(make_config(), datasets=(MULTICLASS,))

    result = run_first_task(multiclass_dataset, config)

    assert result.status == "ok", result.error
    assert [name for name, _, _ in result.scores] == metric_names(
        worker_registry, "multiclass"
    )
    assert all(value is not None for _, value, _ in result.scores)


def test_result_records_fold_sizes(worker_registry, binary_dataset):
    result = run_first_task(binary_dataset, make_config())

    # 3 folds of 90 normal and 30 tumour rows: training folds of 60 and 20,
    # which SMOTE balances to 60 and 60.
    assert result.n_train == 80
    assert result.n_resampled == 120
    assert result.notes == []
    assert result.device == "cpu"


def test_undefined_metric_is_recorded_with_reason(worker_registry, binary_dataset):
    result = run_first_task(binary_dataset, make_config("none", "constant"))

    scores = {name: (value, reason) for name, value, reason in result.scores}
    assert result.status == "ok"
    assert scores["mcc"] == (None, "MCC is undefined: every prediction is class code 0")
    assert scores["f1"] == (0.0, "")


# Failures are recorded, never raised


def test_failing_sampler_is_recorded(worker_registry, binary_dataset):
    result = run_first_task(binary_dataset, make_config("smote:k_neighbors=40"))

    assert result.status == "failed"
    assert result.error.startswith(
        "ValueError: Expected n_neighbors <= n_samples_fit, but n_neighbors = 41"
    )
    assert "fit_resample" in result.traceback
    assert result.scores == []
    assert result.sampler == "smote:k_neighbors=40"


def test_nan_rows_are_a_sampler_output_error(worker_registry, binary_dataset):
    result = run_first_task(binary_dataset, make_config("nan-rows"))

    assert result.status == "failed"
    assert result.error == (
        "SamplerOutputError: sampler 'nan-rows' returned 3 row(s) with NaN or "
        "infinite values out of 83. fit_resample must return finite rows; run "
        "benchmark.testing.check_sampler on the sampler to find the failing case."
    )
    assert result.scores == []


def test_wrong_column_count_is_a_sampler_output_error(worker_registry, binary_dataset):
    result = run_first_task(binary_dataset, make_config("drop-column"))

    assert result.status == "failed"
    assert result.error == (
        "SamplerOutputError: sampler 'drop-column' returned features of shape "
        "(80, 3), expected (n_rows, 4); fit_resample must keep the columns."
    )


def test_unknown_label_is_a_sampler_output_error(worker_registry, binary_dataset):
    result = run_first_task(binary_dataset, make_config("unknown-label"))

    assert result.status == "failed"
    assert result.error == (
        "SamplerOutputError: sampler 'unknown-label' returned labels [7] that are "
        "not in the training fold."
    )


def test_unknown_sampler_name_is_recorded(worker_registry, binary_dataset):
    result = run_first_task(binary_dataset, make_config("smoot"))

    assert result.status == "failed"
    assert result.error.startswith("ConfigurationError: unknown sampler 'smoot'.")


# Notes


def test_sampler_shortfall_is_noted(worker_registry, binary_dataset):
    result = run_first_task(binary_dataset, make_config("half"))

    assert result.status == "ok", result.error
    assert result.notes == [
        "sampler 'half' generated 20 of 40 requested rows for class 'tumour'"
    ]


def test_no_resampling_has_no_note(worker_registry, binary_dataset):
    result = run_first_task(binary_dataset, make_config("none"))

    assert result.notes == []


# Leakage: the rows passed to the sampler


def test_sampler_sees_only_the_training_fold(worker_registry, plugin, binary_dataset):
    config = make_config("spy")
    train, _ = first_split(binary_dataset, config)

    result = run_first_task(binary_dataset, config)

    X_received, y_received = plugin.received[0]
    assert result.status == "ok", result.error
    assert len(plugin.received) == 1
    assert len(X_received) == len(train)
    assert len(X_received) == result.n_train
    assert np.array_equal(y_received, binary_dataset.y[train])


def test_default_protocol_scales_on_training_fold(
    worker_registry, plugin, binary_dataset
):
    config = make_config("spy")
    train, _ = first_split(binary_dataset, config)
    columns = fold_selection(binary_dataset, config, 0, 0)

    run_first_task(binary_dataset, config)

    X_train = binary_dataset.X.to_numpy()[train][:, columns]
    expected = StandardScaler().fit_transform(X_train)
    assert np.allclose(plugin.received[0][0], expected)


def test_paper_protocol_resamples_unscaled_features(
    worker_registry, plugin, binary_dataset
):
    config = make_config("spy", protocol="paper")
    train, _ = first_split(binary_dataset, config)
    columns = fold_selection(binary_dataset, config, 0, 0)

    result = run_first_task(binary_dataset, config)

    X_train = binary_dataset.X.to_numpy()[train][:, columns]
    assert result.status == "ok", result.error
    assert np.array_equal(plugin.received[0][0], X_train)


@pytest.mark.parametrize("protocol", ["default", "paper"])
def test_both_protocols_score_smote(worker_registry, binary_dataset, protocol):
    result = run_first_task(binary_dataset, make_config(protocol=protocol))

    assert result.status == "ok", result.error
    assert len(result.scores) == len(metric_names(worker_registry, "binary"))


# Feature selection


def test_select_features_keeps_all_when_few_columns(binary_dataset):
    X = binary_dataset.X.to_numpy()

    columns = select_features(X, binary_dataset.y, n_features=8, random_state=0)

    assert columns.tolist() == list(range(8))


def test_select_features_returns_sorted_top_columns(binary_dataset):
    X = binary_dataset.X.to_numpy()
    # Reverse the columns so that the informative genes come last.
    reversed_X = X[:, ::-1]

    columns = select_features(reversed_X, binary_dataset.y, 3, random_state=0)

    assert columns.tolist() == [5, 6, 7]


def test_select_features_returns_k_distinct_indices(binary_dataset):
    X = binary_dataset.X.to_numpy()

    columns = select_features(X, binary_dataset.y, 5, random_state=0)

    assert len(columns) == 5
    assert np.array_equal(columns, np.unique(columns))
    assert columns.max() < X.shape[1]


def test_select_features_is_deterministic(binary_dataset):
    X = binary_dataset.X.to_numpy()

    first = select_features(X, binary_dataset.y, 4, random_state=12)
    second = select_features(X, binary_dataset.y, 4, random_state=12)

    assert np.array_equal(first, second)


def test_fold_selection_uses_training_fold_by_default(worker_registry, binary_dataset):
    config = make_config(n_features=3)
    train, _ = first_split(binary_dataset, config)
    X = binary_dataset.X.to_numpy()

    columns = fold_selection(binary_dataset, config, 0, 0)

    seed = derive_seed(config.seed, "selection", BINARY, 0, 0)
    expected = select_features(X[train], binary_dataset.y[train], 3, seed)
    assert np.array_equal(columns, expected)


def test_fold_selection_uses_whole_dataset_under_paper(binary_dataset):
    config = make_config(n_features=3, protocol="paper")
    X = binary_dataset.X.to_numpy()

    columns = fold_selection(binary_dataset, config, 0, 0)

    seed = derive_seed(config.seed, "selection", BINARY, "all")
    assert np.array_equal(columns, select_features(X, binary_dataset.y, 3, seed))


# Determinism


@pytest.mark.parametrize("classifier", ["logreg", "mlp:max_epochs=5"])
def test_same_task_gives_identical_scores(worker_registry, binary_dataset, classifier):
    config = make_config("smote", classifier)

    first = run_first_task(binary_dataset, config)
    second = run_first_task(binary_dataset, config)

    assert first.status == "ok", first.error
    assert first.scores == second.scores
    assert first.n_resampled == second.n_resampled


def test_non_probability_output_fails_the_task(worker_registry, binary_dataset):
    class Broken:
        classes_ = np.array([0, 1])

        def fit(self, X, y):
            return self

        def predict_proba(self, X):
            return np.full((len(X), 2), np.nan)

    result_registry = worker_registry
    spec = result_registry.classifiers["logreg"]
    result_registry.classifiers["logreg"] = type(spec)(
        name="logreg", factory=lambda random_state=None, **p: Broken(), description=""
    )
    try:
        result = run_first_task(binary_dataset, make_config("none"))
    finally:
        result_registry.classifiers["logreg"] = spec

    assert result.status == "failed"
    assert "not probabilities" in result.error
