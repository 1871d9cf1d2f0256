"""Running, interrupting, killing and resuming real runs on the embedded GSE7390 data.

Every run uses the real plugins and real worker processes. Runs that are
interrupted or killed are ``bench run`` subprocesses, signalled from here once
the store contains some finished tasks.
"""

from __future__ import annotations

import fcntl
import json
import multiprocessing
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd
import pytest

import benchmark.runner as runner
import benchmark.workers as workers
from benchmark.cli import main
from benchmark.errors import ConfigurationError
from benchmark.evaluation import execute_task
from benchmark.plugins import load_registry
from benchmark.progress import RunProgress
from benchmark.runner import run_benchmark
from benchmark.scheduling import CPU, ExecutionOptions, Finished, Placement
from benchmark.store import ResultStore
from benchmark.tasks import RunConfig, build_tasks, parse_choice

REPOSITORY = Path(__file__).resolve().parent.parent

# Random forests of 150 trees take a few tenths of a second per task, so a
# signal sent after the first results lands in the middle of the run.
SLOW_ARGV = [
    "--samplers",
    "smote",
    "random",
    "borderline-smote-1",
    "none",
    "--classifiers",
    "rf:n_estimators=150",
    "--datasets",
    "gse7390",
    "--folds",
    "3",
    "--repeats",
    "1",
    "--no-progress",
]
SLOW_TASKS = 12


@pytest.fixture(scope="module")
def full_registry():
    return load_registry()


def make_config(samplers: list[str], classifiers: list[str], folds: int = 3):
    return RunConfig(
        datasets=("gse7390",),
        samplers=tuple(parse_choice(s) for s in samplers),
        classifiers=tuple(parse_choice(c) for c in classifiers),
        folds=folds,
        repeats=1,
        data_dir=REPOSITORY / "datasets",
    )


@pytest.fixture(scope="module")
def slow_reference(tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    """Scores of an uninterrupted run of SLOW_ARGV, in this process."""
    run_dir = tmp_path_factory.mktemp("reference")
    argv = ["run", *SLOW_ARGV, "--backend", "inline", "--output", str(run_dir)]
    assert main(argv) == 0
    return pd.read_csv(run_dir / "scores.csv")


def stored_tasks(run_dir: Path, status: str = "ok") -> int:
    path = run_dir / "results.sqlite"
    if not path.exists():
        return 0
    try:
        with sqlite3.connect(path, timeout=5) as connection:
            query = "SELECT COUNT(*) FROM tasks WHERE status = ?"
            return connection.execute(query, (status,)).fetchone()[0]
    except sqlite3.OperationalError:  # the schema is not written yet
        return 0


def attempts(run_dir: Path) -> pd.DataFrame:
    with ResultStore(run_dir / "results.sqlite") as store:
        return store.attempts_frame()


@pytest.fixture
def bench_process() -> Iterator[Callable[[list[str]], subprocess.Popen]]:
    """Start ``bench run`` subprocesses in new sessions; end them after the test."""
    started: list[subprocess.Popen] = []

    def start(argv: list[str]) -> subprocess.Popen:
        process = subprocess.Popen(
            [sys.executable, "-m", "benchmark.cli", *argv],
            cwd=REPOSITORY,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        started.append(process)
        return process

    yield start
    for process in started:
        # The session id is the pid of the process started here; this ends any
        # worker it left behind.
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.communicate()


def wait_for_results(run_dir: Path, count: int, process: subprocess.Popen) -> int:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        stored = stored_tasks(run_dir)
        if stored >= count:
            return stored
        assert process.poll() is None, process.communicate()[1]
        time.sleep(0.02)
    raise AssertionError(f"fewer than {count} results after 120 s in {run_dir}")


# Determinism


def test_shuffled_order_matches_grid_order(
    full_registry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = make_config(["smote", "borderline-smote-1", "random", "none"], ["logreg"])
    inline = ExecutionOptions(backend="inline")
    run_benchmark(config, full_registry, tmp_path / "grid", execution=inline)

    def shuffled(*args, **kwargs):
        tasks = build_tasks(*args, **kwargs)
        order = list(tasks)
        random.Random(7).shuffle(tasks)
        assert tasks != order
        return tasks

    monkeypatch.setattr(runner, "build_tasks", shuffled)
    local = ExecutionOptions(n_jobs=2)
    summary = run_benchmark(
        config, full_registry, tmp_path / "shuffled", execution=local
    )
    assert summary.finished == 12

    grid = pd.read_csv(tmp_path / "grid" / "scores.csv")
    other = pd.read_csv(tmp_path / "shuffled" / "scores.csv")
    pd.testing.assert_frame_equal(grid, other, check_exact=True)


# Resuming and retrying


def test_retry_failed_reruns_only_failed(full_registry, tmp_path: Path) -> None:
    config = make_config(["smote:k_neighbors=60", "none"], ["logreg"])
    inline = ExecutionOptions(backend="inline")
    with pytest.warns(Warning, match="needs at least 61 rows"):
        first = run_benchmark(config, full_registry, tmp_path, execution=inline)
    assert len(first.failed) == 3

    with pytest.warns(Warning, match="needs at least 61 rows"):
        skipped = run_benchmark(config, full_registry, tmp_path, execution=inline)
    assert skipped.finished == 0

    with pytest.warns(Warning, match="needs at least 61 rows"):
        retried = run_benchmark(
            config, full_registry, tmp_path, execution=inline, retry_failed=True
        )
    assert retried.finished == 3
    assert {r.sampler for r in retried.failed} == {"smote:k_neighbors=60"}
    runs_per_task = attempts(tmp_path).groupby("key").size()
    assert sorted(runs_per_task.value_counts().items()) == [(1, 3), (2, 3)]


def test_locked_run_directory_is_rejected(full_registry, tmp_path: Path) -> None:
    config = make_config(["none"], ["logreg"])
    with open(tmp_path / "run.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        handle.write("4242")
        handle.flush()
        with pytest.raises(ConfigurationError, match=r"in use by another bench run"):
            run_benchmark(config, full_registry, tmp_path)
    assert not (tmp_path / "results.sqlite").exists()


# Time limits


def test_soft_timeout_records_failure_and_run_goes_on(
    full_registry, tmp_path: Path
) -> None:
    # A forest of 200000 trees takes minutes; the others take a moment. The
    # limit leaves room for a worker's first task, which imports torch.
    config = make_config(["none"], ["logreg", "rf:n_estimators=200000"], folds=2)
    execution = ExecutionOptions(n_jobs=2, timeout=10)
    summary = run_benchmark(config, full_registry, tmp_path, execution=execution)

    assert {r.classifier for r in summary.failed} == {"rf:n_estimators=200000"}
    for result in summary.failed:
        # On a busy machine the parent's hard limit may end the task first,
        # which appends how the worker was stopped.
        assert result.error.startswith("TaskTimeout: timed out after 10 s")
        assert "forest" in result.traceback
    outcomes = attempts(tmp_path)["outcome"]
    assert set(outcomes) <= {"finished", "timed out"}
    failures = pd.read_csv(tmp_path / "failures.csv")
    assert len(failures) == 2
    assert failures["error"].str.contains("timed out after 10 s").all()


def ignore_time_limit(task, columns, *, device, threads, timeout):
    """Stand in for a task stuck in native code: SIGALRM cannot reach it."""
    if task.fold == 0:
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
        time.sleep(600)
    return execute_task(task, columns, device=device, threads=threads, timeout=timeout)


def test_hard_timeout_kills_only_stuck_worker(
    monkeypatch: pytest.MonkeyPatch, full_registry
) -> None:
    monkeypatch.setattr(workers, "MIN_GRACE", 0.5)
    config = make_config(["none"], ["logreg"])
    tasks = build_tasks(config, ["gse7390"])
    columns = {("gse7390", 0, fold): list(range(64)) for fold in range(3)}
    options = ExecutionOptions(n_jobs=2, timeout=2)
    placement = Placement(tasks, lambda task: False, (), 2, 1)
    with workers.LocalPool(placement.slots, options) as pool:
        stream = pool.run(placement, columns, function=ignore_time_limit)
        events = [event for event in stream if isinstance(event, Finished)]

    by_fold = {event.task.fold: event for event in events}
    assert sorted(by_fold) == [0, 1, 2]
    stuck = by_fold[0]
    assert stuck.outcome == "timed out"
    assert stuck.result.error.startswith("TaskTimeout: timed out after 2 s; worker ")
    assert "was killed" in stuck.result.error
    pid = int(stuck.result.worker.rsplit(":", 1)[1])
    assert not any(p.pid == pid for p in multiprocessing.active_children())
    assert by_fold[1].result.status == "ok"
    assert by_fold[2].result.status == "ok"


# Workers that die


def kill_workers(run_dir: Path, kills: dict[int, int], stop: threading.Event) -> None:
    """Kill the workers running the first tasks, as often as ``kills`` sets.

    ``kills`` maps a task's dispatch order (0 for the first task sent) to how
    many of its attempts to kill. Only worker processes of this test process
    are killed.
    """
    killed: set[int] = set()
    kills_by_key: dict[str, int] = {}
    while not stop.is_set():
        time.sleep(0.02)
        if not (run_dir / "results.sqlite").exists():
            continue
        try:
            rows = attempts(run_dir)
        except (sqlite3.OperationalError, pd.errors.DatabaseError):
            continue
        order = rows.drop_duplicates("key")["key"].tolist()
        children = {p.pid for p in multiprocessing.active_children()}
        for row in rows[rows["outcome"] == "running"].itertuples():
            wanted = kills.get(order.index(row.key), 0)
            pid = int(row.worker.rsplit(":", 1)[1])
            if row.id in killed or kills_by_key.get(row.key, 0) >= wanted:
                continue
            if pid in children:
                os.kill(pid, signal.SIGKILL)
                killed.add(row.id)
                kills_by_key[row.key] = kills_by_key.get(row.key, 0) + 1


def test_killed_workers_are_retried_then_failed(full_registry, tmp_path: Path) -> None:
    config = make_config(["none"], ["rf:n_estimators=300"])
    stop = threading.Event()
    killer = threading.Thread(
        target=kill_workers, args=(tmp_path, {0: 1, 1: 2}, stop), daemon=True
    )
    killer.start()
    try:
        summary = run_benchmark(
            config, full_registry, tmp_path, execution=ExecutionOptions(n_jobs=2)
        )
    finally:
        stop.set()
        killer.join()

    rows = attempts(tmp_path)
    first, second = rows.drop_duplicates("key")["key"].tolist()[:2]
    outcomes = rows.groupby("key")["outcome"].apply(list)
    assert outcomes[first] == ["died", "finished"]
    assert outcomes[second] == ["died", "died"]
    assert summary.retried == 2
    assert summary.finished == 3

    (failed,) = summary.failed
    assert failed.key == second
    assert failed.error.startswith("WorkerDied: worker process ")
    assert "died (signal SIGKILL) while running the task, on 2 of 2" in failed.error
    assert "run out of memory" in failed.error
    scores = pd.read_csv(tmp_path / "scores.csv")
    assert scores[scores["metric"] == "auc"].shape[0] == 2


def exit_without_result(task, columns, *, device, threads, timeout):
    """Stand in for a library that ends the process itself on fold 0."""
    if task.fold == 0:
        os._exit(3)
    return execute_task(task, columns, device=device, threads=threads, timeout=timeout)


def test_worker_exit_code_gets_its_own_advice(full_registry) -> None:
    config = make_config(["none"], ["logreg"])
    tasks = build_tasks(config, ["gse7390"])
    columns = {("gse7390", 0, fold): list(range(64)) for fold in range(3)}
    placement = Placement(tasks, lambda task: False, (), 2, 1)
    with workers.LocalPool(placement.slots, ExecutionOptions(n_jobs=2)) as pool:
        stream = pool.run(placement, columns, function=exit_without_result)
        events = [event for event in stream if isinstance(event, Finished)]

    by_fold = {event.task.fold: event for event in events}
    error = by_fold[0].result.error
    assert "died (exit code 3)" in error
    assert "os._exit" in error
    assert "memory" not in error
    assert by_fold[1].result.status == "ok"


@pytest.mark.parametrize(
    ("exitcode", "expected"),
    [
        (-signal.SIGKILL, "run out of memory"),
        (-signal.SIGSEGV, "crash in compiled code"),
        (1, "os._exit"),
        (None, "os._exit"),
    ],
)
def test_death_advice_by_exit_code(exitcode, expected) -> None:
    assert expected in workers.death_advice(exitcode)


# Interrupting and killing a real run


def test_ctrl_c_exports_partial_run_and_resume_completes(
    bench_process, tmp_path: Path, slow_reference: pd.DataFrame, capsys
) -> None:
    argv = ["run", *SLOW_ARGV, "--n-jobs", "2", "--output", str(tmp_path)]
    process = bench_process(argv)
    wait_for_results(tmp_path, 2, process)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)

    assert process.returncode == 130, err
    assert "interrupted; finished tasks are saved" in err
    manifest = json.loads((tmp_path / "run.json").read_text())
    assert manifest["status"] == "interrupted"
    stored = stored_tasks(tmp_path)
    assert stored < SLOW_TASKS
    partial = pd.read_csv(tmp_path / "scores.csv")
    metrics = slow_reference["metric"].nunique()
    assert len(partial) == stored * metrics
    assert main(["report", str(tmp_path)]) == 0

    assert main(argv) == 0
    out = capsys.readouterr().out
    assert f"{SLOW_TASKS - stored} task(s) run, {stored} skipped" in out
    resumed = pd.read_csv(tmp_path / "scores.csv")
    pd.testing.assert_frame_equal(resumed, slow_reference, check_exact=True)


def test_sigkill_then_resume_matches_uninterrupted_run(
    bench_process, tmp_path: Path, slow_reference: pd.DataFrame, capsys
) -> None:
    argv = ["run", *SLOW_ARGV, "--n-jobs", "2", "--output", str(tmp_path)]
    process = bench_process(argv)
    wait_for_results(tmp_path, 3, process)
    process.kill()
    process.communicate(timeout=60)
    stored = stored_tasks(tmp_path)
    assert stored < SLOW_TASKS

    # Workers notice that their parent is gone and leave within seconds.
    orphans = {int(w.rsplit(":", 1)[1]) for w in attempts(tmp_path)["worker"]}
    deadline = time.monotonic() + 30
    while orphans and time.monotonic() < deadline:
        orphans = {pid for pid in orphans if _exists(pid)}
        time.sleep(0.1)
    assert not orphans

    assert main(argv) == 0
    out = capsys.readouterr().out
    assert f"{SLOW_TASKS - stored} task(s) run, {stored} skipped" in out
    lost = attempts(tmp_path).query("outcome == 'lost'")
    assert not lost.empty
    resumed = pd.read_csv(tmp_path / "scores.csv")
    pd.testing.assert_frame_equal(resumed, slow_reference, check_exact=True)


def _exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie process still exists for os.kill, but it has exited.
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


# Progress


def test_progress_bar_counts_failures(capsys: pytest.CaptureFixture[str]) -> None:
    config = make_config(["none"], ["logreg"])
    tasks = build_tasks(config, ["gse7390"])
    results = [execute_task(task, list(range(8)), threads=1) for task in tasks[:2]]
    results[1].status = "failed"
    results[1].error = "ValueError: broken fold"
    with RunProgress(total=3, show=True) as progress:
        for result in results:
            progress.task_finished(result)
        progress.task_retried("worker process 1 died", tasks[2].describe())
    err = capsys.readouterr().err
    assert "2/3" in err
    assert "failed=1 retried=1" in err
    assert "<" in err  # elapsed<remaining, the ETA


def test_progress_bar_in_log_updates_rarely(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # capsys makes stderr a file that is not a terminal, like a log.
    config = make_config(["none"], ["logreg"])
    tasks = build_tasks(config, ["gse7390"])
    result = execute_task(tasks[0], list(range(8)), threads=1)
    with RunProgress(total=5, show=True) as progress:
        for _ in range(5):
            # Longer than tqdm's default interval between updates, 0.1 s.
            time.sleep(0.15)
            progress.task_finished(result)
    err = capsys.readouterr().err

    # The opening and the closing state, not one update per task.
    assert err.count("/5 ") == 2
    assert "5/5 " in err


def test_inline_backend_places_everything_on_cpu(full_registry, tmp_path: Path) -> None:
    config = make_config(["none"], ["mlp:max_epochs=2"], folds=2)
    execution = ExecutionOptions(backend="inline", devices=("cuda:0",))
    summary = run_benchmark(config, full_registry, tmp_path, execution=execution)
    assert summary.failed == []
    assert set(attempts(tmp_path)["device"]) == {CPU}
