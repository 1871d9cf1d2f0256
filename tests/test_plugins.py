"""Plugin discovery: built-ins, entry points, broken plugins and name clashes."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
import uuid
from importlib.metadata import entry_points

import pluggy
import pytest

from benchmark import ClassifierSpec, SamplerSpec, hookimpl
from benchmark.errors import ConfigurationError
from benchmark.plugins import (
    BUILTIN_PLUGINS,
    DISABLE_ENV,
    ENTRY_POINT_GROUP,
    load_registry,
)
from plugins.imblearn_samplers import NoResampling

BUILTIN_SAMPLERS = (
    "none",
    "random",
    "smote",
    "borderline-smote-1",
    "borderline-smote-2",
    "adasyn",
    "svm-smote",
    "kmeans-smote",
)
BUILTIN_CLASSIFIERS = ("mlp", "logreg", "rf")
BUILTIN_METRICS = (
    "auc",
    "ap",
    "pr-auc",
    "f1",
    "balanced-accuracy",
    "g-mean",
    "mcc",
    "f1-micro",
    "f1-macro",
    "auc-micro",
    "auc-macro",
    "ap-micro",
    "ap-macro",
)
COMPONENT_PLUGINS = (
    "plugins.imblearn_samplers",
    "plugins.classifiers",
    "plugins.metrics",
)


@pytest.fixture
def write_plugin(tmp_path, monkeypatch):
    """Return a function that writes a plugin module on sys.path and returns its name.

    Every module gets a unique name, so no test imports a module that another
    test left in ``sys.modules``.
    """
    monkeypatch.syspath_prepend(str(tmp_path))
    written: list[str] = []

    def write(source: str) -> str:
        name = f"bench_test_plugin_{uuid.uuid4().hex[:12]}"
        (tmp_path / f"{name}.py").write_text(textwrap.dedent(source), encoding="utf-8")
        written.append(name)
        return name

    yield write
    for name in written:
        sys.modules.pop(name, None)


def sampler_plugin(plugin_name: str, sampler_name: str, description: str) -> object:
    """Build a plugin object named ``plugin_name`` that registers one sampler."""

    class Plugin:
        @hookimpl
        def bench_register_samplers(self) -> list[SamplerSpec]:
            return [
                SamplerSpec(
                    name=sampler_name, factory=NoResampling, description=description
                )
            ]

    Plugin.__name__ = plugin_name
    return Plugin()


def plugin_names(registry) -> list[str]:
    return [info.name for info in registry.plugins]


def failure_names(registry) -> list[str]:
    return [failure.name for failure in registry.failures]


@pytest.mark.parametrize("use_entry_points", [False, True])
def test_builtin_components_are_registered(use_entry_points):
    registry = load_registry(use_entry_points=use_entry_points)

    for name in BUILTIN_SAMPLERS:
        assert name in registry.samplers, f"sampler {name!r} missing"
    for name in BUILTIN_CLASSIFIERS:
        assert name in registry.classifiers, f"classifier {name!r} missing"
    for name in BUILTIN_METRICS:
        assert name in registry.metrics, f"metric {name!r} missing"
    for module in COMPONENT_PLUGINS:
        assert module in plugin_names(registry)
        assert module not in failure_names(registry)


def test_builtin_plugin_records_package_and_contributions():
    registry = load_registry(COMPONENT_PLUGINS, use_entry_points=False)
    info = next(i for i in registry.plugins if i.name == "plugins.imblearn_samplers")

    assert info.package == "oversampling-bench"
    assert info.contributes["samplers"] == list(BUILTIN_SAMPLERS)


def test_entry_points_are_skipped_when_disabled():
    registry = load_registry(COMPONENT_PLUGINS, use_entry_points=False)
    seen = set(plugin_names(registry)) | set(failure_names(registry))

    assert seen == set(COMPONENT_PLUGINS)


def test_every_entry_point_is_loaded_or_reported():
    registry = load_registry(COMPONENT_PLUGINS, use_entry_points=True)
    seen = set(plugin_names(registry)) | set(failure_names(registry))

    for entry_point in entry_points(group=ENTRY_POINT_GROUP):
        assert entry_point.name in seen, f"entry point {entry_point.name!r} ignored"


def test_import_failure_is_reported_and_others_load(write_plugin):
    broken = write_plugin("raise ImportError('needs the optional package fancy_omics')")

    registry = load_registry(
        ("plugins.metrics", broken, "plugins.classifiers"), use_entry_points=False
    )

    assert failure_names(registry) == [broken]
    failure = registry.failures[0]
    assert failure.reason.startswith("import failed: ImportError(")
    assert "fancy_omics" in failure.reason
    assert "ImportError" in failure.traceback
    assert "auc" in registry.metrics
    assert "logreg" in registry.classifiers
    assert broken not in plugin_names(registry)


def test_missing_plugin_module_is_reported_by_name():
    registry = load_registry(
        ("plugins.metrics", "plugins.no_such_module"), use_entry_points=False
    )

    assert failure_names(registry) == ["plugins.no_such_module"]
    assert "ModuleNotFoundError" in registry.failures[0].reason
    assert "auc" in registry.metrics


def test_misspelled_hook_fails_at_load(write_plugin):
    misspelled = write_plugin(
        """
        from benchmark import hookimpl

        @hookimpl
        def bench_register_sampler():
            return []
        """
    )

    with pytest.raises(
        pluggy.PluginValidationError,
        match=rf"unknown hook 'bench_register_sampler' in plugin "
        rf"<module '{misspelled}'",
    ):
        load_registry(("plugins.metrics", misspelled), use_entry_points=False)


def test_undecorated_misspelled_hook_fails_at_load(write_plugin):
    misspelled = write_plugin(
        """
        def bench_register_sampler():
            return []
        """
    )

    with pytest.raises(pluggy.PluginValidationError, match="bench_register_sampler"):
        load_registry((misspelled,), use_entry_points=False)


def test_hook_argument_missing_from_spec_fails_at_load(write_plugin):
    extra_argument = write_plugin(
        """
        from benchmark import hookimpl

        @hookimpl
        def bench_register_samplers(config):
            return []
        """
    )

    with pytest.raises(
        pluggy.PluginValidationError,
        match=r"Argument\(s\) \{'config'\} are declared in the hookimpl but can not "
        r"be found in the hookspec",
    ):
        load_registry((extra_argument,), use_entry_points=False)


def test_duplicate_sampler_name_keeps_first_plugin():
    first = sampler_plugin("FirstSamplers", "shared-name", "from the first plugin")
    second = sampler_plugin("SecondSamplers", "shared-name", "from the second plugin")

    registry = load_registry((), extra=[first, second], use_entry_points=False)

    assert registry.sampler("shared-name").description == "from the first plugin"
    assert failure_names(registry) == ["SecondSamplers"]
    reason = registry.failures[0].reason
    assert "'shared-name' is already registered by plugin 'FirstSamplers'" in reason
    assert "plugin 'SecondSamplers' cannot use it" in reason
    assert f"{DISABLE_ENV}=SecondSamplers" in reason


def test_duplicate_of_builtin_sampler_keeps_builtin():
    impostor = sampler_plugin("Impostor", "smote", "not the imbalanced-learn SMOTE")

    registry = load_registry(
        ("plugins.imblearn_samplers",), extra=[impostor], use_entry_points=False
    )

    assert registry.sampler("smote").description.startswith("SMOTE:")
    assert failure_names(registry) == ["Impostor"]
    assert "'plugins.imblearn_samplers'" in registry.failures[0].reason


def test_raising_hook_is_reported_and_others_load():
    class FailingSamplers:
        @hookimpl
        def bench_register_samplers(self) -> list[SamplerSpec]:
            raise RuntimeError("model cache /srv/models is not readable")

        @hookimpl
        def bench_register_classifiers(self) -> list[ClassifierSpec]:
            return [
                ClassifierSpec(
                    name="constant", factory=object, description="placeholder"
                )
            ]

    registry = load_registry(
        ("plugins.imblearn_samplers",),
        extra=[FailingSamplers()],
        use_entry_points=False,
    )

    assert failure_names(registry) == ["FailingSamplers"]
    failure = registry.failures[0]
    assert failure.reason == (
        "bench_register_samplers raised "
        "RuntimeError('model cache /srv/models is not readable')"
    )
    assert "RuntimeError" in failure.traceback
    assert set(registry.samplers) == set(BUILTIN_SAMPLERS)
    assert "constant" in registry.classifiers


def test_disable_env_skips_builtin_plugins(monkeypatch):
    monkeypatch.setenv(DISABLE_ENV, " plugins.classifiers , plugins.metrics")

    registry = load_registry(COMPONENT_PLUGINS, use_entry_points=False)

    assert registry.classifiers == {}
    assert registry.metrics == {}
    assert "smote" in registry.samplers
    assert plugin_names(registry) == ["plugins.imblearn_samplers"]
    assert registry.failures == []


def test_disable_env_skips_entry_points(monkeypatch):
    names = [ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)]
    monkeypatch.setenv(DISABLE_ENV, ",".join(names))

    registry = load_registry(COMPONENT_PLUGINS, use_entry_points=True)

    assert set(plugin_names(registry)) == set(COMPONENT_PLUGINS)
    assert registry.failures == []


def test_unknown_sampler_error_lists_valid_names(registry):
    valid = ", ".join(sorted(BUILTIN_SAMPLERS))

    with pytest.raises(
        ConfigurationError,
        match=re.escape(f"unknown sampler 'smot'. Valid samplers: {valid}."),
    ):
        registry.sampler("smot")


def test_unknown_component_error_names_its_kind(registry):
    with pytest.raises(ConfigurationError, match=r"^unknown classifier 'svm'\."):
        registry.classifier("svm")
    with pytest.raises(ConfigurationError, match=r"^unknown metric 'accuracy'\."):
        registry.metric("accuracy")


def test_unknown_dataset_with_none_registered(registry):
    with pytest.raises(
        ConfigurationError,
        match=re.escape("unknown dataset 'gse1'. Valid datasets: (none registered)."),
    ):
        registry.dataset("gse1")


def test_importing_benchmark_loads_no_plugin():
    modules = ["benchmark", "benchmark.plugins", "benchmark.tasks"]
    code = "\n".join(
        [
            "import sys",
            *(f"import {module}" for module in modules),
            f"loaded = [m for m in {list(BUILTIN_PLUGINS)!r} if m in sys.modules]",
            "print(','.join(loaded))",
        ]
    )

    completed = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )

    assert completed.stdout.strip() == ""


def test_undecorated_hook_fails_at_load(write_plugin):
    undecorated = write_plugin(
        """
        def bench_register_samplers():
            return []
        """
    )

    with pytest.raises(pluggy.PluginValidationError, match="decorate it with"):
        load_registry((undecorated,), use_entry_points=False)
