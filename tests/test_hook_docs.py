"""Every hook in benchmark.hookspecs is documented in docs/plugins.md and tested.

The hooks come from the specification module through pluggy, so a new hook
fails these tests until it has a section in docs/plugins.md and a test under
tests/. The module also checks that the code in docs/plugins.md is valid and
matches the example package, and it tests the two hooks that no other test
module calls.
"""

from __future__ import annotations

import ast
import functools
import re
import types
from pathlib import Path

import numpy as np
import pluggy
import pytest

from benchmark import (
    DatasetSpec,
    MetricSpec,
    UndefinedMetricError,
    evaluation,
    hookimpl,
    hookspecs,
)
from benchmark.evaluation import execute_task, fold_selection
from benchmark.plugins import DISABLE_ENV, load_registry
from benchmark.runner import run_benchmark
from benchmark.scheduling import ExecutionOptions
from benchmark.tasks import RunConfig, build_tasks, parse_choice
from benchmark.testing import REQUIRED_PROVENANCE, SAMPLER_CHECKS

REPOSITORY = Path(__file__).resolve().parent.parent
DOCS = REPOSITORY / "docs" / "plugins.md"
TESTS = REPOSITORY / "tests"
COMPONENT_PLUGINS = (
    "plugins.imblearn_samplers",
    "plugins.classifiers",
    "plugins.metrics",
)
CAPABILITIES = (
    "supports_multiclass",
    "uses_torch",
    "can_use_gpu",
    "needs_scaled_input",
    "min_class_size",
)
HOOK_HEADING = re.compile(r"^### `(bench_\w+)\(([^)]*)\)`$", re.MULTILINE)
# A fenced block preceded by "File `path`:" quotes the whole file, and one
# preceded by "From `path`:" quotes a part of it.
QUOTED_BLOCK = re.compile(
    r"^(File|From) `([^`]+)`:\n\n```[a-z]*\n(.*?)^```$", re.MULTILINE | re.DOTALL
)
PYTHON_BLOCK = re.compile(r"^```python\n(.*?)^```$", re.MULTILINE | re.DOTALL)


def hook_arguments() -> dict[str, list[str]]:
    """Map every hook that pluggy finds in benchmark.hookspecs to its arguments."""
    manager = pluggy.PluginManager(hookspecs.PROJECT)
    manager.add_hookspecs(hookspecs)
    return {
        name: list(caller.spec.argnames)
        for name, caller in vars(manager.hook).items()
        if isinstance(caller, pluggy.HookCaller) and caller.spec is not None
    }


def documented_hooks() -> dict[str, list[str]]:
    text = DOCS.read_text(encoding="utf-8")
    return {
        name: [a.strip() for a in arguments.split(",") if a.strip()]
        for name, arguments in HOOK_HEADING.findall(text)
    }


@functools.cache
def names_used_in_tests() -> dict[str, set[str]]:
    """Map each test module to the identifiers its code uses or defines.

    Plugin sources that tests write to disk count too: ``def bench_...(`` in a
    string constant.
    """
    used = {}
    for path in sorted(TESTS.glob("test_*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        names = set()
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                names.add(node.name)
            elif isinstance(node, ast.Attribute):
                names.add(node.attr)
            elif isinstance(node, ast.Name):
                names.add(node.id)
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                names.update(re.findall(r"\bdef (bench_\w+)\(", node.value))
        used[path.name] = names
    return used


def test_hook_specification_is_found():
    hooks = hook_arguments()

    assert "bench_register_samplers" in hooks
    assert hooks["bench_run_finished"] == ["run_dir"]


@pytest.mark.parametrize("hook", sorted(hook_arguments()))
def test_hook_has_docs_section(hook):
    documented = documented_hooks()

    assert hook in documented, f"docs/plugins.md has no '### `{hook}(...)`' section"
    assert documented[hook] == hook_arguments()[hook]


def test_docs_describe_only_existing_hooks():
    assert set(documented_hooks()) <= set(hook_arguments())


@pytest.mark.parametrize("hook", sorted(hook_arguments()))
def test_hook_has_test(hook):
    modules = [name for name, used in names_used_in_tests().items() if hook in used]

    assert modules, f"no module under tests/ implements or calls {hook}"


def test_docs_list_capabilities_checks_and_settings():
    text = DOCS.read_text(encoding="utf-8")

    for capability in CAPABILITIES:
        assert f"| `{capability}` |" in text, capability
    for check in SAMPLER_CHECKS:
        assert f"| `{check}` |" in text, check
    for key in REQUIRED_PROVENANCE:
        assert f"| `{key}` |" in text, key
    assert DISABLE_ENV in text


def test_quoted_files_match_example_package():
    quoted = QUOTED_BLOCK.findall(DOCS.read_text(encoding="utf-8"))

    assert len(quoted) >= 4
    for kind, path, block in quoted:
        content = (REPOSITORY / path).read_text(encoding="utf-8")
        if kind == "File":
            assert block == content, f"docs/plugins.md quotes an old {path}"
        else:
            assert block in content, f"docs/plugins.md quotes lines not in {path}"


def test_docs_snippets_are_valid_plugins():
    text = DOCS.read_text(encoding="utf-8")
    quoted = {block for _, _, block in QUOTED_BLOCK.findall(text)}
    snippets = [
        block
        for block in PYTHON_BLOCK.findall(text)
        if block not in quoted and "@hookimpl" in block
    ]

    assert len(snippets) >= 4
    for number, snippet in enumerate(snippets):
        module = types.ModuleType(f"docs_snippet_{number}")
        exec(compile(snippet, module.__name__, "exec"), module.__dict__)
        registry = load_registry((), extra=[module], use_entry_points=False)
        assert registry.failures == [], snippet


# --- Hooks that no other test module calls ---------------------------------------


class MetricPlugin:
    """Registers a binary test dataset and three metrics: defined, undefined, broken."""

    def __init__(self, dataset, broken: bool):
        self.dataset = dataset
        self.broken = broken

    @hookimpl
    def bench_register_datasets(self):
        return [
            DatasetSpec(
                name=self.dataset.name,
                loader=lambda data_dir: self.dataset,
                description="seeded test data",
            )
        ]

    @hookimpl
    def bench_register_metrics(self):
        def predicted_positive_rate(y_true, y_proba, y_pred, positive):
            return float(np.mean(y_pred == positive))

        def never_defined(y_true, y_proba, y_pred, positive):
            raise UndefinedMetricError("never defined on purpose")

        def broken(y_true, y_proba, y_pred, positive):
            raise ZeroDivisionError("division by zero in a plugin metric")

        metrics = [
            MetricSpec("predicted-positive-rate", predicted_positive_rate, "rate"),
            MetricSpec("never-defined", never_defined, "undefined"),
        ]
        if self.broken:
            metrics.append(MetricSpec("broken", broken, "raises"))
        return metrics


def run_one_task(plugin, dataset, monkeypatch):
    registry = load_registry(COMPONENT_PLUGINS, extra=[plugin], use_entry_points=False)
    monkeypatch.setattr(evaluation, "worker_registry", lambda: registry)
    evaluation.load_dataset.cache_clear()
    evaluation._splits.cache_clear()
    config = RunConfig(
        datasets=(dataset.name,),
        samplers=(parse_choice("none"),),
        classifiers=(parse_choice("logreg"),),
        folds=3,
        repeats=1,
    )
    task = build_tasks(config, [dataset.name])[0]
    try:
        return execute_task(task, fold_selection(dataset, config, 0, 0))
    finally:
        evaluation.load_dataset.cache_clear()
        evaluation._splits.cache_clear()


def test_plugin_metric_is_scored(binary_dataset, monkeypatch):
    result = run_one_task(
        MetricPlugin(binary_dataset, False), binary_dataset, monkeypatch
    )

    scores = {name: (value, note) for name, value, note in result.scores}
    assert result.status == "ok"
    assert 0 <= scores["predicted-positive-rate"][0] <= 1
    assert scores["never-defined"] == (None, "never defined on purpose")
    assert "auc" in scores


def test_raising_metric_costs_only_its_score(binary_dataset, monkeypatch):
    result = run_one_task(
        MetricPlugin(binary_dataset, True), binary_dataset, monkeypatch
    )
    scores = {metric: (value, note) for metric, value, note in result.scores}

    assert result.status == "ok"
    assert scores["broken"][0] is None
    assert scores["broken"][1] == (
        "metric 'broken' (plugin 'MetricPlugin') failed: "
        "ZeroDivisionError('division by zero in a plugin metric')"
    )
    assert scores["predicted-positive-rate"][0] is not None


def test_run_finished_gets_complete_run_dir(tmp_path):
    calls = []

    class Recorder:
        @hookimpl
        def bench_run_finished(self, run_dir):
            calls.append((run_dir, sorted(path.name for path in run_dir.iterdir())))

    registry = load_registry(
        (*COMPONENT_PLUGINS, "plugins.embedded_datasets"),
        extra=[Recorder()],
        use_entry_points=False,
    )
    config = RunConfig(
        datasets=("gse7390",),
        samplers=(parse_choice("none"),),
        classifiers=(parse_choice("logreg"),),
        folds=2,
        repeats=1,
        data_dir=REPOSITORY / "datasets",
    )
    run_dir = tmp_path / "run"

    run_benchmark(
        config,
        registry,
        run_dir,
        execution=ExecutionOptions(backend="inline"),
        show_progress=False,
    )

    assert len(calls) == 1
    received, files = calls[0]
    assert received == run_dir
    for name in ("scores.csv", "run.json", "failures.csv", "leaderboard.txt"):
        assert name in files
