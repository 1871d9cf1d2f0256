"""Registers the example sampler and dataset with oversampling-bench."""

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import sklearn
from benchmark import Dataset, DatasetSpec, SamplerSpec, hookimpl
from sklearn.datasets import load_breast_cancer

from bench_example_plugin.sampler import GaussianJitter

DATASET_NAME = "example-breast-cancer"


def _min_class_size(params: Mapping[str, Any]) -> int:
    # One row is enough: its copies get zero noise, because a single row has
    # zero standard deviation.
    return 1


@hookimpl
def bench_register_samplers() -> list[SamplerSpec]:
    return [
        SamplerSpec(
            name="example-jitter",
            factory=GaussianJitter,
            description="Example plugin: copies of random rows of a class plus "
            "Gaussian noise scaled to each feature's spread in the class.",
            params={"noise": 0.1},
            supports_multiclass=True,
            uses_torch=False,
            can_use_gpu=False,
            # The noise follows each feature's own scale, so unscaled input works.
            needs_scaled_input=False,
            min_class_size=_min_class_size,
        )
    ]


def load_example_dataset(data_dir: Path) -> Dataset:
    """Load the Wisconsin diagnostic breast cancer table that scikit-learn ships.

    ``data_dir`` is not used, because the table is part of scikit-learn.
    """
    bunch = load_breast_cancer(as_frame=True)
    labels = bunch.target.map(dict(enumerate(bunch.target_names)))
    return Dataset.from_frame(
        DATASET_NAME,
        bunch.data,
        labels,
        positive="malignant",
        provenance={
            "source": f"scikit-learn {sklearn.__version__}: "
            "sklearn.datasets.load_breast_cancer",
            "accession": "UCI Machine Learning Repository, Breast Cancer "
            "Wisconsin (Diagnostic)",
            "citation": "W. N. Street, W. H. Wolberg and O. L. Mangasarian. "
            "Nuclear feature extraction for breast tumor diagnosis. IS&T/SPIE "
            "1993 International Symposium on Electronic Imaging: Science and "
            "Technology, volume 1905, pages 861-870, 1993.",
            "licence": "scikit-learn (BSD-3-Clause) redistributes the UCI data "
            "set; check the UCI dataset page for its terms before redistributing "
            "the data",
            "label_definition": "diagnosis of the fine needle aspirate: "
            "malignant (positive class) or benign",
        },
    )


@hookimpl
def bench_register_datasets() -> list[DatasetSpec]:
    return [
        DatasetSpec(
            name=DATASET_NAME,
            loader=load_example_dataset,
            description="Example plugin: Wisconsin diagnostic breast cancer, "
            "30 nucleus features, malignant vs benign",
            suites=("example",),
            shape=(569, 30),
            class_counts={"benign": 357, "malignant": 212},
        )
    ]
