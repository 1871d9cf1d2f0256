"""The hooks through which plugins extend the harness.

Hooks are listed in the order a run calls them: discovery of components first,
then the end of a run. Every hook name starts with ``bench_``; a plugin function
whose name starts with ``bench_`` but matches no hook here fails at start-up.

A plugin is a module (or object) with functions decorated by
:data:`hookimpl`::

    from benchmark import hookimpl, SamplerSpec

    @hookimpl
    def bench_register_samplers():
        return [SamplerSpec(name="my-sampler", factory=MySampler, description="...")]
"""

from __future__ import annotations

from pathlib import Path

import pluggy

from benchmark.components import ClassifierSpec, DatasetSpec, MetricSpec, SamplerSpec

PROJECT = "oversampling_bench"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


# Discovery: called once when the plugin manager is built, in every process
# that runs tasks.


@hookspec
def bench_register_samplers() -> list[SamplerSpec]:
    """Return the oversamplers this plugin contributes.

    Called once per process at start-up. Names must be unique across all
    plugins; a duplicate is reported with both plugin names.
    """


@hookspec
def bench_register_datasets() -> list[DatasetSpec]:
    """Return the datasets this plugin contributes.

    Called once per process at start-up. Loading happens later, through each
    spec's ``loader``, only for datasets a run selects.
    """


@hookspec
def bench_register_classifiers() -> list[ClassifierSpec]:
    """Return the classifiers this plugin contributes.

    Called once per process at start-up.
    """


@hookspec
def bench_register_metrics() -> list[MetricSpec]:
    """Return the metrics this plugin contributes.

    Called once per process at start-up. Every metric that applies to a
    dataset's task (binary or multiclass) is computed on every test fold.
    """


# Reporting: called in the main process after the last task has finished.


@hookspec
def bench_run_finished(run_dir: Path) -> None:
    """Act on a finished run, for example to write extra tables or figures.

    ``run_dir`` contains ``scores.csv``, ``run.json`` and the leaderboard.
    Called once, after every task has finished or failed.
    """
