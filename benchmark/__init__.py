"""Benchmark harness for oversampling methods on imbalanced tabular data."""

from benchmark.components import (
    ClassifierSpec,
    Dataset,
    DatasetSpec,
    MetricSpec,
    SamplerSpec,
)
from benchmark.errors import (
    BenchError,
    BenchWarning,
    ConfigurationError,
    DatasetError,
    PluginError,
    SamplerOutputError,
    UndefinedMetricError,
)
from benchmark.hookspecs import hookimpl

__version__ = "0.1.0"

__all__ = [
    "BenchError",
    "BenchWarning",
    "ClassifierSpec",
    "ConfigurationError",
    "Dataset",
    "DatasetError",
    "DatasetSpec",
    "MetricSpec",
    "PluginError",
    "SamplerOutputError",
    "SamplerSpec",
    "UndefinedMetricError",
    "__version__",
    "hookimpl",
]
