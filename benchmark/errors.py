"""Exceptions and warnings raised by the harness."""

from __future__ import annotations

__all__ = [
    "BenchError",
    "BenchWarning",
    "ConfigurationError",
    "DatasetError",
    "PluginError",
    "SamplerOutputError",
    "UndefinedMetricError",
]


class BenchError(Exception):
    """Base class of every failure the harness reports to the user."""


class ConfigurationError(BenchError, ValueError):
    """A run was configured with an invalid name, parameter or option."""


class DatasetError(BenchError, ValueError):
    """A dataset cannot be used as it is: bad values, labels, or missing files."""


class PluginError(BenchError):
    """A plugin failed to load or contributed something invalid."""


class SamplerOutputError(BenchError):
    """A sampler returned data that cannot be used to train a classifier."""


class UndefinedMetricError(BenchError):
    """A metric has no value on a fold; the message is recorded as the reason."""


class BenchWarning(UserWarning):
    """Something the user should change, although the run can go on."""
