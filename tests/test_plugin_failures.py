"""Broken third-party plugins: what `bench` and the conformance kit report.

Each test installs a plugin the way pip does, as a module plus a dist-info
folder that declares an entry point, in a temporary folder on sys.path. The
commands run in this process through ``benchmark.cli.main``.
"""

from __future__ import annotations

import importlib
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd
import pluggy
import pytest

from benchmark import PluginError, evaluation, hookimpl
from benchmark.cli import main
from benchmark.plugins import (
    DISABLE_ENV,
    ENTRY_POINT_GROUP,
    PluginHookError,
    load_registry,
)
from benchmark.testing import ConformanceError, check_sampler, load_entry_point

InstallPlugin = Callable[[str, str], str]

BROKEN_SAMPLERS = """
    import numpy as np

    from benchmark import SamplerSpec, hookimpl


    class NaNRows:
        def __init__(self, random_state=None):
            self.random_state = random_state

        def fit_resample(self, X, y):
            rows = np.full((3, X.shape[1]), np.nan)
            return np.vstack([X, rows]), np.r_[y, [1, 1, 1]]


    class DropsColumn:
        def __init__(self, random_state=None):
            self.random_state = random_state

        def fit_resample(self, X, y):
            return X[:, :-1], y


    @hookimpl
    def bench_register_samplers():
        return [
            SamplerSpec(name="nan-rows", factory=NaNRows, description="NaN rows"),
            SamplerSpec(
                name="drops-column", factory=DropsColumn, description="one column less"
            ),
        ]
"""


def duplicate_sampler_plugin(description: str) -> str:
    return f"""
        from benchmark import SamplerSpec, hookimpl
        from plugins.imblearn_samplers import NoResampling


        @hookimpl
        def bench_register_samplers():
            return [
                SamplerSpec(
                    name="shared-name",
                    factory=NoResampling,
                    description={description!r},
                )
            ]
    """


@pytest.fixture
def install_plugin(tmp_path: Path, monkeypatch) -> Iterator[InstallPlugin]:
    """Return a function that installs a plugin module under an entry point name.

    Every plugin gets its own folder at the front of sys.path, so the plugin
    installed last is found first. The folders and modules are removed after
    the test, and the per-process registry of the task runner is reset.
    """
    modules: list[str] = []

    def install(entry_point: str, source: str) -> str:
        module = f"{entry_point.replace('-', '_')}_plugin"
        folder = tmp_path / module
        dist_info = folder / f"{module}-1.0.dist-info"
        dist_info.mkdir(parents=True)
        (folder / f"{module}.py").write_text(textwrap.dedent(source), encoding="utf-8")
        (dist_info / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: {entry_point}-plugin\nVersion: 1.0\n",
            encoding="utf-8",
        )
        (dist_info / "entry_points.txt").write_text(
            f"[{ENTRY_POINT_GROUP}]\n{entry_point} = {module}\n", encoding="utf-8"
        )
        monkeypatch.syspath_prepend(str(folder))
        importlib.invalidate_caches()
        modules.append(module)
        return module

    evaluation.worker_registry.cache_clear()
    yield install
    evaluation.worker_registry.cache_clear()
    for module in modules:
        sys.modules.pop(module, None)


def test_import_failure_is_listed_and_others_work(install_plugin, capsys):
    install_plugin("fancy-omics", "raise ImportError('needs the package fancy_omics')")

    assert main(["plugins"]) == 0
    plugins = capsys.readouterr().out
    assert main(["list", "samplers"]) == 0
    samplers = capsys.readouterr().out

    assert (
        "FAILED fancy-omics (fancy-omics-plugin 1.0): import failed: "
        "ImportError('needs the package fancy_omics')" in plugins
    )
    assert "plugins.imblearn_samplers" in plugins
    assert "smote" in samplers


def test_hook_argument_error_names_plugin_and_fix(install_plugin, capsys):
    install_plugin(
        "bad-args",
        """
        from benchmark import hookimpl

        @hookimpl
        def bench_register_samplers(config):
            return []
        """,
    )

    assert main(["plugins"]) == 2
    error = capsys.readouterr().err

    assert error.startswith(
        "error: Plugin 'bad-args' for hook 'bench_register_samplers'"
    )
    assert "Argument(s) {'config'} are declared in the hookimpl" in error
    assert "Plugin 'bad-args' (bad-args-plugin 1.0) does not match" in error
    assert f"disable the plugin with {DISABLE_ENV}=bad-args" in error


def test_disabled_bad_plugin_lets_bench_start(install_plugin, monkeypatch, capsys):
    install_plugin(
        "bad-args",
        """
        from benchmark import hookimpl

        @hookimpl
        def bench_register_samplers(config):
            return []
        """,
    )
    monkeypatch.setenv(DISABLE_ENV, "bad-args")

    assert main(["plugins"]) == 0
    out = capsys.readouterr().out
    assert f"disabled by {DISABLE_ENV}" in out
    assert "FAILED bad-args" not in out


def test_misspelled_hook_error_names_plugin(install_plugin, capsys):
    install_plugin(
        "typo",
        """
        from benchmark import hookimpl

        @hookimpl
        def bench_register_sampler():
            return []
        """,
    )

    assert main(["list", "samplers"]) == 2
    error = capsys.readouterr().err

    assert "unknown hook 'bench_register_sampler' in plugin <module 'typo_plugin'" in (
        error
    )
    assert "Plugin 'typo' (typo-plugin 1.0) does not match" in error


def test_hook_error_is_pluggy_and_bench_error(install_plugin):
    module = install_plugin(
        "bad-args",
        """
        from benchmark import hookimpl

        @hookimpl
        def bench_register_samplers(config):
            return []
        """,
    )

    with pytest.raises(PluginHookError) as caught:
        load_registry(())

    assert isinstance(caught.value, pluggy.PluginValidationError)
    assert isinstance(caught.value, PluginError)
    assert caught.value.plugin is sys.modules[module]


def test_duplicate_sampler_name_reports_both_plugins(install_plugin, capsys):
    install_plugin("second", duplicate_sampler_plugin("from the second plugin"))
    install_plugin("first", duplicate_sampler_plugin("from the first plugin"))

    assert main(["plugins"]) == 0
    plugins = capsys.readouterr().out
    assert main(["list", "samplers"]) == 0
    samplers = capsys.readouterr().out

    assert (
        "FAILED second: sampler name 'shared-name' is already registered by "
        "plugin 'first', so plugin 'second' cannot use it." in plugins
    )
    assert f"{DISABLE_ENV}=second" in plugins
    assert "from the first plugin" in samplers
    assert "from the second plugin" not in samplers


def test_broken_sampler_fails_its_tasks_only(install_plugin, tmp_path, capsys):
    install_plugin("broken-samplers", BROKEN_SAMPLERS)
    run_dir = tmp_path / "run"
    argv = [
        "run",
        "--samplers",
        "nan-rows",
        "drops-column",
        "none",
        "--datasets",
        "gse7390",
        "--classifiers",
        "logreg",
        "--folds",
        "2",
        "--repeats",
        "1",
        "--backend",
        "inline",
        "--no-progress",
        "--output",
        str(run_dir),
    ]

    assert main(argv) == 0
    printed = capsys.readouterr().out
    scores = pd.read_csv(run_dir / "scores.csv")
    failures = pd.read_csv(run_dir / "failures.csv")

    assert set(scores["sampler"]) == {"none"}
    assert sorted(failures["sampler"]) == ["drops-column"] * 2 + ["nan-rows"] * 2
    assert "gse7390 / nan-rows on 2 fold(s)" in printed
    assert (
        "SamplerOutputError: sampler 'nan-rows' returned 3 row(s) with NaN or "
        "infinite values" in printed
    )
    assert "SamplerOutputError: sampler 'drops-column' returned features of shape" in (
        printed
    )


@pytest.mark.parametrize(
    ("sampler", "problem"),
    [
        ("nan-rows", "finite-output: fit_resample returned 3 row(s) with NaN"),
        ("drops-column", "finite-output: fit_resample returned features of shape"),
    ],
)
def test_kit_names_broken_sampler_and_fix(install_plugin, sampler, problem):
    module = install_plugin("broken-samplers", BROKEN_SAMPLERS)
    registry = load_entry_point("broken-samplers")

    with pytest.raises(ConformanceError) as caught:
        check_sampler(registry.sampler(sampler), plugin=module)

    message = str(caught.value)
    assert message.startswith(f"sampler {sampler!r} of plugin {module!r} failed")
    assert problem in message
    assert "Fix: return one finite row per label, with one column per input" in (
        message
    )


def test_kit_rejects_plugin_with_bad_hook(install_plugin):
    install_plugin(
        "bad-args",
        """
        from benchmark import hookimpl

        @hookimpl
        def bench_register_samplers(config):
            return []
        """,
    )

    with pytest.raises(ConformanceError, match="does not match the hook spec"):
        load_entry_point("bad-args")


def test_kit_reports_missing_entry_point():
    with pytest.raises(ConformanceError, match="no installed package declares"):
        load_entry_point("not-installed")


def test_failing_run_finished_hook_does_not_stop_others(tmp_path, caplog):
    from benchmark.runner import _notify_run_finished

    calls = []

    class Broken:
        @hookimpl
        def bench_run_finished(self, run_dir):
            raise RuntimeError("figure backend missing")

    class Working:
        @hookimpl
        def bench_run_finished(self, run_dir):
            calls.append(run_dir)

    registry = load_registry((), extra=[Broken(), Working()], use_entry_points=False)

    with caplog.at_level("ERROR", logger="benchmark.runner"):
        _notify_run_finished(registry, tmp_path)

    assert calls == [tmp_path]
    assert "bench_run_finished raised RuntimeError('figure backend missing')" in (
        caplog.text
    )
