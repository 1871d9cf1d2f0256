"""Run configuration: parsing choices, seeds, tasks, splits and pre-run checks."""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pandas as pd
import pytest

from benchmark import BenchWarning, SamplerSpec, hookimpl
from benchmark.components import Dataset
from benchmark.errors import ConfigurationError, DatasetError
from benchmark.plugins import load_registry
from benchmark.tasks import (
    ComponentChoice,
    RunConfig,
    Task,
    build_tasks,
    check_datasets,
    check_samplers,
    derive_seed,
    iter_splits,
    parse_choice,
)
from plugins.imblearn_samplers import NoResampling


def make_dataset(name: str, counts: dict[str, int]) -> Dataset:
    rng = np.random.default_rng(11)
    labels = np.repeat(list(counts), list(counts.values()))
    X = pd.DataFrame(rng.normal(size=(len(labels), 3)), columns=["a", "b", "c"])
    return Dataset.from_frame(name, X, labels[rng.permutation(len(labels))])


def make_config(*samplers: str, folds: int = 5, **options) -> RunConfig:
    return RunConfig(
        datasets=("toy",),
        samplers=tuple(parse_choice(text) for text in samplers),
        classifiers=(parse_choice("logreg"),),
        folds=folds,
        **options,
    )


# parse_choice


def test_parse_choice_name_only():
    choice = parse_choice("smote")

    assert choice == ComponentChoice("smote", {})
    assert choice.label == "smote"


def test_parse_choice_integer_parameter():
    choice = parse_choice("smote:k_neighbors=3")

    assert choice.name == "smote"
    assert choice.params == {"k_neighbors": 3}
    assert choice.label == "smote:k_neighbors=3"


def test_parse_choice_multiple_parameters():
    choice = parse_choice(
        " kmeans-smote : k_neighbors=2 , cluster_balance_threshold=0.1"
    )

    assert choice.name == "kmeans-smote"
    assert choice.params == {"k_neighbors": 2, "cluster_balance_threshold": 0.1}


def test_parse_choice_label_sorts_parameters():
    first = parse_choice("svm-smote:m_neighbors=10,k_neighbors=3")
    second = parse_choice("svm-smote:k_neighbors=3,m_neighbors=10")

    assert first.label == "svm-smote:k_neighbors=3,m_neighbors=10"
    assert second.label == first.label


def test_parse_choice_string_values():
    choice = parse_choice("svm-smote:sampling_strategy=minority,out_step='auto'")

    assert choice.params == {"sampling_strategy": "minority", "out_step": "auto"}
    assert choice.label == "svm-smote:out_step='auto',sampling_strategy='minority'"


def test_parse_choice_python_literals():
    choice = parse_choice("mlp:device=None,patience=-1,batch_size=64.0")

    assert choice.params["device"] is None
    assert choice.params["patience"] == -1
    assert choice.params["batch_size"] == 64.0


@pytest.mark.parametrize(
    ("text", "item"),
    [
        ("smote:k_neighbors", "k_neighbors"),
        ("smote:k_neighbors=3,5", "5"),
        ("smote:=3", "=3"),
    ],
)
def test_parse_choice_rejects_item_without_key_value(text, item):
    with pytest.raises(
        ConfigurationError,
        match=re.escape(
            f"invalid parameter {item!r} in {text!r}: expected key=value, "
            "as in smote:k_neighbors=3"
        ),
    ):
        parse_choice(text)


# derive_seed


def test_derive_seed_is_pinned():
    # The seed is the first 4 bytes of SHA-256 over the parts joined by "|".
    # Changing the derivation changes every stored result.
    assert derive_seed(42, "splits", "gse7390") == 1079568529


def test_derive_seed_does_not_depend_on_call_order():
    later = [derive_seed(42, "toy", n) for n in range(5)]
    reversed_calls = [derive_seed(42, "toy", n) for n in reversed(range(5))]

    assert later == reversed_calls[::-1]


def test_derive_seed_depends_on_every_part():
    base = derive_seed(42, "toy", "smote", 0)

    assert derive_seed(43, "toy", "smote", 0) != base
    assert derive_seed(42, "toy2", "smote", 0) != base
    assert derive_seed(42, "toy", "smote", 1) != base
    assert derive_seed(42, "smote", "toy", 0) != base


def test_derive_seed_fits_32_bits():
    seeds = [derive_seed("part", i) for i in range(200)]

    assert min(seeds) >= 0
    assert max(seeds) < 2**32


# build_tasks


def test_build_tasks_count():
    config = RunConfig(
        datasets=("a", "b"),
        samplers=(parse_choice("none"), parse_choice("smote"), parse_choice("random")),
        classifiers=(parse_choice("logreg"), parse_choice("rf")),
        folds=4,
        repeats=2,
    )

    tasks = build_tasks(config, config.datasets)

    assert len(tasks) == 2 * 2 * 4 * 3 * 2
    assert len({task.key for task in tasks}) == len(tasks)


def test_build_tasks_seeds_ignore_sampler_order():
    forward = make_config("none", "smote:k_neighbors=3", "adasyn", repeats=2)
    backward = make_config("adasyn", "smote:k_neighbors=3", "none", repeats=2)

    def seeds(config: RunConfig) -> dict[tuple, int]:
        return {
            (t.dataset, t.sampler.label, t.classifier.label, t.repeat, t.fold): t.seed
            for t in build_tasks(config, ["toy"])
        }

    assert seeds(forward) == seeds(backward)


def test_build_tasks_keys_ignore_sampler_order():
    forward = make_config("none", "smote", repeats=1)
    backward = make_config("smote", "none", repeats=1)

    forward_keys = {t.key for t in build_tasks(forward, ["toy"])}
    backward_keys = {t.key for t in build_tasks(backward, ["toy"])}

    assert forward_keys == backward_keys


def test_build_tasks_seeds_change_with_run_seed():
    first = build_tasks(make_config("smote", repeats=1, seed=1), ["toy"])
    second = build_tasks(make_config("smote", repeats=1, seed=2), ["toy"])

    assert [t.seed for t in first] != [t.seed for t in second]


def test_build_tasks_seeds_differ_between_cells():
    tasks = build_tasks(make_config("none", "smote", repeats=3), ["toy"])

    assert len({task.seed for task in tasks}) == len(tasks)


# iter_splits


def test_iter_splits_same_seed_same_folds():
    dataset = make_dataset("toy", {"normal": 40, "tumour": 10})

    first = list(iter_splits(dataset, folds=5, repeats=2, seed=42))
    second = list(iter_splits(dataset, folds=5, repeats=2, seed=42))

    assert len(first) == 10
    for first_split, second_split in zip(first, second, strict=True):
        assert first_split[:2] == second_split[:2]
        assert np.array_equal(first_split[2], second_split[2])
        assert np.array_equal(first_split[3], second_split[3])


def test_iter_splits_differ_between_seeds():
    dataset = make_dataset("toy", {"normal": 40, "tumour": 10})

    first = [test for *_, test in iter_splits(dataset, 5, 1, seed=42)]
    second = [test for *_, test in iter_splits(dataset, 5, 1, seed=43)]

    assert not all(np.array_equal(a, b) for a, b in zip(first, second, strict=True))


def test_iter_splits_differ_between_dataset_names():
    data = make_dataset("toy", {"normal": 40, "tumour": 10})
    renamed = dataclasses.replace(data, name="toy-copy")

    first = [test for *_, test in iter_splits(data, 5, 1, seed=42)]
    second = [test for *_, test in iter_splits(renamed, 5, 1, seed=42)]

    assert not all(np.array_equal(a, b) for a, b in zip(first, second, strict=True))


def test_iter_splits_are_stratified_partitions():
    dataset = make_dataset("toy", {"normal": 40, "tumour": 10})

    splits = list(iter_splits(dataset, folds=5, repeats=2, seed=42))

    assert [(repeat, fold) for repeat, fold, *_ in splits] == [
        (r, f) for r in range(2) for f in range(5)
    ]
    for repeat in range(2):
        tests = [test for r, _, _, test in splits if r == repeat]
        assert np.array_equal(np.sort(np.concatenate(tests)), np.arange(50))
    for _, _, train, test in splits:
        assert np.intersect1d(train, test).size == 0
        assert np.bincount(dataset.y[test]).tolist() == [8, 2]


# check_datasets


def test_check_datasets_accepts_enough_samples():
    dataset = make_dataset("toy", {"normal": 40, "tumour": 5})

    check_datasets({"toy": dataset}, make_config("none", folds=5))


def test_check_datasets_rejects_class_smaller_than_folds():
    dataset = make_dataset("toy", {"normal": 40, "tumour": 3})

    with pytest.raises(
        DatasetError,
        match=re.escape(
            "dataset 'toy': class 'tumour' has 3 sample(s), fewer than --folds 5, "
            "so stratified cross-validation cannot place it in every fold. "
            "Use --folds 3 or fewer"
        ),
    ):
        check_datasets({"toy": dataset}, make_config("none", folds=5))


def test_check_datasets_single_sample_class_advice():
    dataset = make_dataset("toy", {"normal": 40, "tumour": 1})

    with pytest.raises(DatasetError) as error:
        check_datasets({"toy": dataset}, make_config("none", folds=5))

    assert "--folds 2" not in str(error.value)


# check_samplers


def test_check_samplers_warns_small_class(registry):
    # 6 tumour rows in 5 folds leave 4 in the smallest training fold, and
    # SMOTE with k_neighbors=5 needs 6.
    dataset = make_dataset("toy", {"normal": 40, "tumour": 6})

    with pytest.warns(
        BenchWarning,
        match=re.escape(
            "sampler 'smote' needs at least 6 rows of a class in a training fold, "
            "but class 'tumour' of 'toy' has about 4; those tasks will be recorded "
            "as failed. Lower the sampler's neighbour count, for example "
            "smote:k_neighbors=3."
        ),
    ):
        messages = check_samplers({"toy": dataset}, make_config("smote"), registry)

    assert len(messages) == 1


def test_check_samplers_uses_user_neighbours(registry):
    dataset = make_dataset("toy", {"normal": 40, "tumour": 6})
    config = make_config("smote:k_neighbors=3", "none", "random")

    assert check_samplers({"toy": dataset}, config, registry) == []


def test_check_samplers_label_names_user_parameters(registry):
    dataset = make_dataset("toy", {"normal": 40, "tumour": 6})

    with pytest.warns(BenchWarning, match=r"^sampler 'smote:k_neighbors=4' needs"):
        check_samplers({"toy": dataset}, make_config("smote:k_neighbors=4"), registry)


def test_check_samplers_adasyn_advice_names_its_parameter(registry):
    dataset = make_dataset("toy", {"normal": 40, "tumour": 6})

    with pytest.warns(BenchWarning) as record:
        check_samplers({"toy": dataset}, make_config("adasyn"), registry)

    assert "adasyn:n_neighbors=3" in str(record[0].message)


def test_check_samplers_binary_only_on_multiclass():
    class BinaryOnly:
        @hookimpl
        def bench_register_samplers(self) -> list[SamplerSpec]:
            return [
                SamplerSpec(
                    name="binary-only",
                    factory=NoResampling,
                    description="handles two classes",
                    supports_multiclass=False,
                )
            ]

    registry = load_registry((), extra=[BinaryOnly()], use_entry_points=False)
    dataset = make_dataset("toy", {"a": 20, "b": 20, "c": 20})

    with pytest.warns(
        BenchWarning,
        match=re.escape(
            "sampler 'binary-only' supports binary tasks only; its tasks on 'toy' "
            "(3 classes) will fail."
        ),
    ):
        check_samplers({"toy": dataset}, make_config("binary-only"), registry)


# Task.key


def make_task(sampler: str = "smote", versions: str = "v1", **options) -> Task:
    config = make_config(sampler, **options)
    return Task(
        dataset="toy",
        sampler=config.samplers[0],
        classifier=config.classifiers[0],
        repeat=0,
        fold=0,
        seed=123,
        config=config,
        versions=versions,
    )


def test_task_key_is_stable():
    assert make_task().key == make_task().key


def test_task_key_changes_with_sampler_params():
    assert make_task("smote:k_neighbors=3").key != make_task("smote").key
    assert make_task("smote:k_neighbors=3").key != make_task("smote:k_neighbors=4").key


def test_task_key_changes_with_protocol():
    assert make_task(protocol="paper").key != make_task(protocol="default").key


def test_task_key_changes_with_versions():
    assert make_task(versions="torch 2.13").key != make_task(versions="torch 2.12").key


def test_task_key_changes_with_feature_count():
    assert make_task(n_features=32).key != make_task(n_features=64).key
