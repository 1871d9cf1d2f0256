"""The dask backend on a local cluster of two single-threaded worker processes."""

from __future__ import annotations

import multiprocessing
import os
import signal
import socket
import sqlite3
import threading
import time
from pathlib import Path

import pandas as pd
import pytest

import benchmark.dask_backend as dask_backend
from benchmark.cli import main
from benchmark.dask_backend import check_worker_versions
from benchmark.errors import ConfigurationError
from benchmark.runner import package_versions

distributed = pytest.importorskip("distributed")
dask = pytest.importorskip("dask")

FAST = [
    "--datasets",
    "gse7390",
    "--folds",
    "3",
    "--repeats",
    "1",
    "--no-progress",
]


@pytest.fixture(scope="module")
def cluster():
    # One retry after a worker death, as local worker processes do.
    with dask.config.set({"distributed.scheduler.allowed-failures": 1}):
        cluster = distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        )
    with cluster:
        yield cluster


@pytest.fixture(scope="module")
def local_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run_dir = tmp_path_factory.mktemp("inline")
    argv = ["run", "--samplers", "smote", "none", "--classifiers", "logreg", *FAST]
    assert main([*argv, "--backend", "inline", "--output", str(run_dir)]) == 0
    return run_dir


def test_dask_run_matches_local_run(
    cluster, local_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [
        "run",
        "--samplers",
        "smote",
        "none",
        "smote:k_neighbors=60",
        "--classifiers",
        "logreg",
        *FAST,
        "--backend",
        "dask",
        "--scheduler",
        cluster.scheduler_address,
        "--output",
        str(tmp_path),
    ]
    with pytest.warns(Warning, match="needs at least 61 rows"):
        assert main(argv) == 0
    out = capsys.readouterr().out
    assert "9 task(s) run, 0 skipped as already done, 3 failed" in out

    scores = pd.read_csv(tmp_path / "scores.csv")
    expected = pd.read_csv(local_run / "scores.csv")
    pd.testing.assert_frame_equal(scores, expected, check_exact=True)
    failures = pd.read_csv(tmp_path / "failures.csv")
    assert set(failures["sampler"]) == {"smote:k_neighbors=60"}
    assert failures["error"].str.contains("n_neighbors").all()

    with sqlite3.connect(tmp_path / "results.sqlite") as connection:
        workers = pd.read_sql_query("SELECT worker FROM attempts", connection)
    pids = {worker.rsplit(":", 1)[1] for worker in workers["worker"]}
    assert len(pids) == 2

    with pytest.warns(Warning, match="needs at least 61 rows"):
        assert main(argv) == 0
    assert "0 task(s) run, 9 skipped" in capsys.readouterr().out


def test_dask_timeout_stops_task_in_worker_thread(
    cluster, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [
        "run",
        "--samplers",
        "none",
        "--classifiers",
        "rf:n_estimators=200000",
        "--datasets",
        "gse7390",
        "--folds",
        "2",
        "--repeats",
        "1",
        "--no-progress",
        "--timeout",
        "2",
        "--backend",
        "dask",
        "--scheduler",
        cluster.scheduler_address,
        "--output",
        str(tmp_path),
    ]
    # Every task times out, and a run where no task succeeded exits with 1.
    assert main(argv) == 1
    capsys.readouterr()
    failures = pd.read_csv(tmp_path / "failures.csv")
    assert len(failures) == 2
    assert (failures["error"] == "TaskTimeout: timed out after 2 s").all()
    log = (tmp_path / "failures.log").read_text()
    assert "forest" in log


def kill_task_workers(cluster, kills: int, stop: threading.Event) -> None:
    """Kill the worker process running the first task, ``kills`` times in all."""
    target = None
    killed: set[int] = set()
    while not stop.is_set() and len(killed) < kills:
        time.sleep(0.05)
        for key, state in list(cluster.scheduler.tasks.items()):
            if not str(key).startswith("bench-task-"):
                continue
            target = target or str(key)
            worker = state.processing_on
            if str(key) != target or worker is None or worker.pid in killed:
                continue
            # Only worker processes that this test process started are killed.
            if worker.pid in {p.pid for p in multiprocessing.active_children()}:
                os.kill(worker.pid, signal.SIGKILL)
                killed.add(worker.pid)


def test_dask_task_whose_workers_die_fails(
    cluster, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [
        "run",
        "--samplers",
        "none",
        "--classifiers",
        "rf:n_estimators=3000",
        "--datasets",
        "gse7390",
        "--folds",
        "2",
        "--repeats",
        "1",
        "--no-progress",
        "--backend",
        "dask",
        "--scheduler",
        cluster.scheduler_address,
        "--output",
        str(tmp_path),
    ]
    stop = threading.Event()
    killer = threading.Thread(target=kill_task_workers, args=(cluster, 2, stop))
    killer.start()
    try:
        assert main(argv) == 0
    finally:
        stop.set()
        killer.join()
    out = capsys.readouterr().out
    assert "2 task(s) run, 0 skipped as already done, 1 failed" in out
    failures = pd.read_csv(tmp_path / "failures.csv")
    (error,) = failures["error"]
    assert error.startswith("WorkerDied: every dask worker that ran the task died")


def test_worker_versions_must_match(cluster) -> None:
    with distributed.Client(cluster) as client:
        expected = {**package_versions(), "numpy": "0.0"}
        with pytest.raises(ConfigurationError, match=r"numpy .* \(here 0\.0\)"):
            check_worker_versions(client, expected, package_versions)
        check_worker_versions(client, package_versions(), package_versions)


def test_unreachable_scheduler_is_reported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dask_backend, "CONNECT_TIMEOUT", "1s")
    # A port that was free a moment ago: nothing listens there.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    address = f"tcp://127.0.0.1:{port}"
    argv = ["run", "--samplers", "none", "--classifiers", "logreg", *FAST]
    argv += ["--backend", "dask", "--scheduler", address, "--output", str(tmp_path)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert f"could not connect to the dask scheduler at {address}" in err
