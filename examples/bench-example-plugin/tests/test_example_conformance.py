"""The plugin passes the oversampling-bench conformance kit."""

import pytest
from benchmark.testing import (
    dataset_cases,
    load_entry_point,
    load_plugin,
    sampler_cases,
)

from bench_example_plugin import plugin

REGISTRY = load_plugin(plugin)
# Where a dataset's downloaded files would be; this plugin's dataset needs none.
DATA_DIR = "datasets"


@pytest.mark.parametrize("case", sampler_cases(REGISTRY))
def test_sampler_conformance(case):
    case.run()


@pytest.mark.parametrize("case", dataset_cases(REGISTRY, DATA_DIR))
def test_dataset_conformance(case):
    case.run()


def test_entry_point_registers_plugin():
    registry = load_entry_point("bench-example")

    assert set(registry.samplers) == {"example-jitter"}
    assert set(registry.datasets) == {"example-breast-cancer"}
