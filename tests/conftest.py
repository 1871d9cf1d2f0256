"""Seeded imbalanced data and a plugin registry shared by the test modules."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from benchmark.components import Dataset
from benchmark.plugins import Registry, load_registry

# The built-in plugins that contribute samplers, classifiers and metrics. The
# dataset plugins are left out because they read files that these tests do not need.
COMPONENT_PLUGINS = (
    "plugins.imblearn_samplers",
    "plugins.classifiers",
    "plugins.metrics",
)


@pytest.fixture(scope="session", autouse=True)
def single_torch_thread():
    """Run torch on one thread, as execute_task does by default.

    In one run on a loaded two-core machine, a 15-epoch fit on 120 rows took
    about 6 s with two torch threads and 0.4 s with one.
    """
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="session")
def registry() -> Registry:
    """The built-in samplers, classifiers and metrics, without entry points."""
    return load_registry(COMPONENT_PLUGINS, use_entry_points=False)


@pytest.fixture(scope="session")
def expression_table() -> tuple[pd.DataFrame, pd.Series]:
    """A small gene-expression-like table: 90 normal and 30 tumour samples.

    Eight log-scale expression columns around 6. Tumour samples are shifted
    on the first three genes, so a classifier can separate the classes but not
    perfectly. Rows are shuffled with a fixed seed.
    """
    rng = np.random.default_rng(20240611)
    n_normal, n_tumour, n_genes = 90, 30, 8
    is_tumour = np.r_[np.zeros(n_normal, dtype=bool), np.ones(n_tumour, dtype=bool)]
    expression = rng.normal(6.0, 1.0, size=(len(is_tumour), n_genes))
    shift = np.zeros(n_genes)
    shift[:3] = [1.5, -1.0, 0.8]
    expression += np.outer(is_tumour, shift)

    order = rng.permutation(len(is_tumour))
    columns = [f"GENE{i + 1}" for i in range(n_genes)]
    X = pd.DataFrame(expression[order], columns=columns)
    y = pd.Series(np.where(is_tumour[order], "tumour", "normal"), name="tissue")
    return X, y


@pytest.fixture(scope="session")
def binary_dataset(expression_table) -> Dataset:
    """``expression_table`` as a Dataset named ``toy-expression``.

    Class codes: ``normal`` is 0 and ``tumour`` (the minority) is 1.
    """
    X, y = expression_table
    return Dataset.from_frame("toy-expression", X, y)


@pytest.fixture(scope="session")
def binary_arrays(binary_dataset) -> tuple[np.ndarray, np.ndarray]:
    """Standardised float features and integer class codes of ``binary_dataset``."""
    X = binary_dataset.X.to_numpy()
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    return X, binary_dataset.y


@pytest.fixture(scope="session")
def multiclass_arrays() -> tuple[np.ndarray, np.ndarray]:
    """Three classes of 60, 30 and 15 rows with five standardised features."""
    rng = np.random.default_rng(7)
    sizes = (60, 30, 15)
    centres = np.array([[0, 0, 0, 0, 0], [1.5, 0, 1, 0, 0], [0, 1.5, -1, 0, 0]])
    blocks = [
        rng.normal(centre, 1.0, size=(n, 5))
        for centre, n in zip(centres, sizes, strict=True)
    ]
    X = np.vstack(blocks)
    y = np.repeat(np.arange(3), sizes)
    order = rng.permutation(len(y))
    return X[order], y[order]
