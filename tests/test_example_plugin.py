"""The example plugin package in examples/bench-example-plugin."""

from __future__ import annotations

import os
import shutil
import site
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from benchmark.plugins import DISABLE_ENV
from benchmark.testing import check_dataset_spec, check_sampler, load_plugin

REPOSITORY = Path(__file__).resolve().parent.parent
EXAMPLE = REPOSITORY / "examples" / "bench-example-plugin"
SAMPLER = "example-jitter"
DATASET = "example-breast-cancer"
# pip may build and install from local folders only.
OFFLINE_PIP = [
    "-m",
    "pip",
    "install",
    "--quiet",
    "--no-index",
    "--no-deps",
    "--no-build-isolation",
]


@pytest.fixture
def example_module(monkeypatch):
    """Import the example plugin from its source folder, without installing it."""
    monkeypatch.syspath_prepend(str(EXAMPLE / "src"))
    import bench_example_plugin.plugin

    yield bench_example_plugin.plugin
    for name in [m for m in sys.modules if m.startswith("bench_example_plugin")]:
        del sys.modules[name]


def test_example_plugin_passes_kit(example_module):
    registry = load_plugin(example_module)

    outcomes = check_sampler(registry.sampler(SAMPLER))
    dataset = check_dataset_spec(registry.dataset(DATASET), REPOSITORY / "datasets")

    assert set(registry.samplers) == {SAMPLER}
    assert outcomes["unscaled-input"] == "passed"
    assert dataset.class_names == ("benign", "malignant")
    assert dataset.class_names[dataset.positive] == "malignant"


def run_checked(command: list, cwd: Path, env: dict) -> subprocess.CompletedProcess:
    completed = subprocess.run(
        [str(part) for part in command],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 0, (
        f"{' '.join(str(part) for part in command)} exited with "
        f"{completed.returncode}\nstdout:\n{completed.stdout}\n"
        f"stderr:\n{completed.stderr}"
    )
    return completed


def share_site_packages(python: Path) -> None:
    """Make the environment of ``python`` import this interpreter's packages.

    A .pth line that starts with ``import`` runs at start-up, and
    site.addsitedir also processes the .pth files of editable installs there.
    """
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    lines = [
        f"import site; site.addsitedir({path!r})" for path in site.getsitepackages()
    ]
    (Path(purelib) / "_parent_environment.pth").write_text(
        "\n".join(lines) + "\n", encoding="utf-8"
    )


@pytest.mark.slow
def test_installed_example_runs_with_bench(tmp_path):
    # pip builds in the source folder, so it gets a copy to keep build/ and
    # *.egg-info out of the repository.
    source = tmp_path / "bench-example-plugin"
    shutil.copytree(
        EXAMPLE,
        source,
        ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"),
    )
    venv = tmp_path / "venv"
    env = {
        **os.environ,
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    env.pop(DISABLE_ENV, None)
    # torch, pluggy and the other dependencies come from the system
    # site-packages, and so does pip.
    run_checked(
        [
            sys.executable,
            "-m",
            "venv",
            "--system-site-packages",
            "--without-pip",
            venv,
        ],
        tmp_path,
        env,
    )
    python = venv / "bin" / "python"
    bench = venv / "bin" / "bench"
    if sys.prefix != sys.base_prefix:
        # Run from a virtual environment such as tox's: --system-site-packages
        # sees the base interpreter only, so add this environment's packages.
        share_site_packages(python)
    # Installing the harness into the environment gives it its own `bench`.
    run_checked([python, *OFFLINE_PIP, "--editable", REPOSITORY], tmp_path, env)
    run_checked([python, *OFFLINE_PIP, source], tmp_path, env)

    samplers = run_checked([bench, "list", "samplers"], tmp_path, env).stdout
    plugins = run_checked([bench, "plugins"], tmp_path, env).stdout
    run_dir = tmp_path / "run"
    run_checked(
        [
            bench,
            "run",
            "--samplers",
            SAMPLER,
            "--datasets",
            "gse7390",
            "--quick",
            "--classifiers",
            "logreg",
            "--output",
            run_dir,
            "--no-progress",
        ],
        tmp_path,
        env,
    )
    run_checked([python, "-m", "pytest", "-q", "-p", "no:cacheprovider"], source, env)

    assert SAMPLER in samplers
    plugin_row = next(line for line in plugins.splitlines() if "bench-example" in line)
    assert plugin_row.split()[:3] == ["bench-example", "bench-example-plugin", "0.1.0"]
    assert f"1 samplers: {SAMPLER}; 1 datasets: {DATASET}" in plugin_row
    scores = pd.read_csv(run_dir / "scores.csv")
    assert set(scores["sampler"]) == {SAMPLER}
    assert scores["value"].notna().any()
    assert pd.read_csv(run_dir / "failures.csv").empty
