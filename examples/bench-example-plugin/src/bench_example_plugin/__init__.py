"""Example oversampling-bench plugin: the GaussianJitter sampler and a dataset."""

from bench_example_plugin.sampler import GaussianJitter

__all__ = ["GaussianJitter"]
