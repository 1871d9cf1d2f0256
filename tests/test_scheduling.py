"""Device discovery, task placement and execution options, without a GPU.

GPUs are simulated: through ``CUDA_VISIBLE_DEVICES`` and injected counts for
discovery, and through ``--devices`` for a real run, where the MLP receives
the simulated device and fails on this CPU-only torch, which shows that the
device reached the component.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pandas as pd
import pytest
import torch

from benchmark.cli import main
from benchmark.errors import BenchWarning, ConfigurationError
from benchmark.scheduling import (
    CPU,
    ExecutionOptions,
    Placement,
    _count_cuda_devices,
    discover_devices,
    parse_device_option,
    parse_visible_devices,
    task_wants_gpu,
    usable_cpu_count,
)
from benchmark.tasks import RunConfig, build_tasks, parse_choice

# Devices


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("0", ["0"]),
        ("0,1", ["0", "1"]),
        (" 2 , 3", ["2", "3"]),
        ("", []),
        ("-1", []),
        ("NoDevFiles", []),
        ("0,1,-1,2", ["0", "1"]),
        ("1,1", []),
        ("GPU-8a1f,GPU-77c2", ["GPU-8a1f", "GPU-77c2"]),
        ("GPU-8a1f,0", ["GPU-8a1f"]),
        ("MIG-4b0e", ["MIG-4b0e"]),
    ],
)
def test_visible_devices_follow_cuda_rules(value: str, expected: list[str]) -> None:
    assert parse_visible_devices(value) == expected


def test_discovery_counts_visible_devices() -> None:
    environ = {"CUDA_VISIBLE_DEVICES": "3,5"}
    devices = discover_devices(environ, cuda_built=True, count_devices=_unexpected)
    assert devices == ("cuda:0", "cuda:1")


def test_discovery_reads_process_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,1,2")
    devices = discover_devices(cuda_built=True, count_devices=_unexpected)
    assert devices == ("cuda:0", "cuda:1", "cuda:2")


def test_discovery_empty_visible_devices_means_cpu() -> None:
    environ = {"CUDA_VISIBLE_DEVICES": ""}
    assert discover_devices(environ, cuda_built=True, count_devices=_unexpected) == ()


def test_discovery_asks_torch_without_variable() -> None:
    devices = discover_devices({}, cuda_built=True, count_devices=lambda: 2)
    assert devices == ("cuda:0", "cuda:1")


def test_discovery_without_cuda_build_skips_count() -> None:
    assert discover_devices({}, cuda_built=False, count_devices=_unexpected) == ()


def test_discovery_warns_when_torch_lacks_cuda() -> None:
    environ = {"CUDA_VISIBLE_DEVICES": "0,1"}
    with pytest.warns(BenchWarning, match="built without CUDA"):
        devices = discover_devices(environ, cuda_built=False)
    assert devices == ()


def test_device_count_leaves_cuda_uninitialised() -> None:
    # The count runs in a child process; on a machine without a GPU it is 0.
    count = _count_cuda_devices()
    assert count == torch.cuda.device_count()
    assert not torch.cuda.is_initialized()


def _unexpected() -> int:
    raise AssertionError("torch should not be asked for the device count")


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["cpu"], ()),
        (["0,1"], ("cuda:0", "cuda:1")),
        (["cuda:0", "cuda:2"], ("cuda:0", "cuda:2")),
        (["1", "cuda:3"], ("cuda:1", "cuda:3")),
    ],
)
def test_device_option_parses(values: list[str], expected: tuple) -> None:
    assert parse_device_option(values) == expected


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (["gpu0"], "invalid device 'gpu0'"),
        (["cpu", "0"], "invalid device 'cpu'"),
        (["0,0"], "lists a device twice"),
        ([","], "needs 'cpu' or at least one GPU"),
    ],
)
def test_device_option_rejects(values: list[str], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        parse_device_option(values)


def test_usable_cpus_follow_affinity() -> None:
    assert usable_cpu_count() == len(os.sched_getaffinity(0))


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"backend": "threads"}, "unknown backend 'threads'"),
        ({"n_jobs": 0}, "n_jobs must be at least 1"),
        ({"gpu_jobs_per_device": 0}, "gpu_jobs_per_device must be at least 1"),
        ({"timeout": 0}, "timeout must be a positive number"),
        ({"scheduler": "tcp://127.0.0.1:8786"}, "only used with the dask backend"),
    ],
)
def test_execution_options_reject(options: dict, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        ExecutionOptions(**options)


# Placement


def make_tasks(classifiers: tuple[str, ...], folds: int = 3) -> list:
    config = RunConfig(
        datasets=("gse7390",),
        samplers=(parse_choice("none"),),
        classifiers=tuple(parse_choice(c) for c in classifiers),
        folds=folds,
        repeats=1,
    )
    return build_tasks(config, ["gse7390"])


def test_gpu_capable_components_want_gpu(registry) -> None:
    mlp, logreg, pinned = make_tasks(("mlp", "logreg", "mlp:device='cpu'"))[:3]
    assert task_wants_gpu(mlp, registry)
    assert not task_wants_gpu(logreg, registry)
    assert not task_wants_gpu(pinned, registry)


def test_placement_splits_gpu_and_cpu_tasks(registry) -> None:
    tasks = make_tasks(("mlp", "logreg"))
    placement = Placement(
        tasks, lambda t: task_wants_gpu(t, registry), ("cuda:0", "cuda:1"), 3, 2
    )
    assert placement.slots == [CPU] * 3 + ["cuda:0"] * 2 + ["cuda:1"] * 2
    gpu_tasks = [placement.take("cuda:1") for _ in range(3)]
    assert {t.classifier.name for t in gpu_tasks} == {"mlp"}
    assert placement.take("cuda:0") is None
    cpu_tasks = [placement.take(CPU) for _ in range(3)]
    assert {t.classifier.name for t in cpu_tasks} == {"logreg"}
    assert len(placement) == 0


def test_placement_without_gpu_runs_all_on_cpu(registry) -> None:
    tasks = make_tasks(("mlp", "logreg"))
    placement = Placement(tasks, lambda t: task_wants_gpu(t, registry), (), 2, 4)
    assert placement.slots == [CPU, CPU]
    assert placement.queued(CPU) == len(tasks)


def test_placement_adds_no_idle_slots(registry) -> None:
    tasks = make_tasks(("logreg",))
    placement = Placement(
        tasks, lambda t: task_wants_gpu(t, registry), ("cuda:0",), 2, 2
    )
    assert placement.slots == [CPU, CPU]
    only_gpu = Placement(tasks, lambda t: True, ("cuda:0",), 2, 2)
    assert only_gpu.slots == ["cuda:0", "cuda:0"]


def test_put_back_goes_first() -> None:
    tasks = make_tasks(("logreg",))
    placement = Placement(tasks, lambda t: False, (), 1, 1)
    first = placement.take(CPU)
    placement.put_back(first)
    assert placement.take(CPU) == first
    assert placement.take(CPU) == tasks[1]


# A run with simulated GPUs


def test_run_places_tasks_on_simulated_gpus(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [
        "run",
        "--samplers",
        "none",
        "--classifiers",
        "mlp",
        "logreg",
        "--datasets",
        "gse7390",
        "--folds",
        "4",
        "--repeats",
        "1",
        "--no-progress",
        "--devices",
        "cuda:0",
        "cuda:1",
        "--gpu-jobs-per-device",
        "1",
        "--output",
        str(tmp_path),
    ]
    assert main(argv) == 0
    capsys.readouterr()

    with sqlite3.connect(tmp_path / "results.sqlite") as connection:
        tasks = pd.read_sql_query("SELECT * FROM tasks", connection)
        attempts = pd.read_sql_query("SELECT * FROM attempts", connection)

    mlp = tasks[tasks["classifier"] == "mlp"]
    logreg = tasks[tasks["classifier"] == "logreg"]
    assert set(mlp["device"]) == {"cuda:0", "cuda:1"}
    assert set(logreg["device"]) == {"cpu"}
    assert (logreg["status"] == "ok").all()
    # This torch has no CUDA, so the MLP rejects the device it was given.
    assert (mlp["status"] == "failed").all()
    assert mlp["error"].str.contains("device='cuda:").all()

    for device in ("cuda:0", "cuda:1"):
        rows = attempts[attempts["device"] == device]
        assert max_overlap(rows) == 1, device
        assert rows["worker"].nunique() == 1, device


def max_overlap(attempts: pd.DataFrame) -> int:
    """Return the most attempts that were running at the same moment."""
    events = [(t, 1) for t in attempts["started_at"]]
    events += [(t, -1) for t in attempts["finished_at"]]
    running = peak = 0
    for _, change in sorted(events, key=lambda e: (e[0], e[1])):
        running += change
        peak = max(peak, running)
    return peak
