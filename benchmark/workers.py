"""Run tasks in worker processes on this machine, one process per worker slot.

Every slot of a :class:`~benchmark.scheduling.Placement` owns one process,
started with the ``spawn`` method (a fresh interpreter, never a fork, so a
worker can use CUDA whatever the parent did) and reused for task after task.
The parent sends one task at a time through a pipe and waits on every pipe
and every process sentinel at once, so it can always tell which task runs in
which process. That gives three guarantees that a pool sharing one queue
between workers (such as joblib's) cannot give:

* A worker that dies (killed by the out-of-memory killer, ``kill -9``, a
  segfault in native code) costs only its own task. The task runs once more
  in a fresh process, and if that worker dies as well the task is recorded
  as failed with the process id and the signal. Other workers keep running.
* A task that runs past ``--timeout`` first gets :class:`TaskTimeout` raised
  inside it (SIGALRM in the worker). If it has not stopped after a grace
  period, because it is stuck in native code, the parent kills that worker
  alone and records the task as timed out.
* Workers ignore Ctrl-C, which the terminal sends to the whole process
  group, and leave on their own when the parent process disappears, so an
  interrupted or killed run leaves no stray worker behind for long.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import socket
import threading
import time
import traceback
from collections import Counter, deque
from collections.abc import Callable, Iterator, Sequence
from multiprocessing.connection import Connection, wait
from typing import Any

import numpy as np

from benchmark.errors import BenchError
from benchmark.evaluation import execute_task, worker_registry
from benchmark.scheduling import (
    CPU,
    Dispatched,
    ExecutionOptions,
    Finished,
    Placement,
    Requeued,
    failed_result,
)
from benchmark.tasks import Task

__all__ = [
    "MAX_ATTEMPTS",
    "LocalPool",
    "WorkerDied",
    "hard_time_limit",
    "run_inline",
]

logger = logging.getLogger(__name__)

Event = Dispatched | Finished | Requeued
Columns = dict[tuple[str, int, int], np.ndarray]

# A task whose worker dies runs again in a fresh worker; after this many
# deaths it is recorded as failed. Two lets a task survive one death caused by
# another process (the out-of-memory killer may pick any large process) while
# a task that crashes its worker every time costs only one extra worker.
MAX_ATTEMPTS = 2

# Seconds an idle worker gets to exit after the run before it is killed.
SHUTDOWN_TIMEOUT = 10.0

# Environment variables read by BLAS and OpenMP libraries when they load.
THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)


# Seconds, at least, between a task's time limit and the parent killing it.
MIN_GRACE = 5.0


def hard_time_limit(timeout: float) -> float:
    """Return when the parent kills a task that ignored its ``timeout``.

    The grace period after the soft limit is 10% of the timeout, at least
    :data:`MIN_GRACE`, so a task interrupted at the soft limit has time to
    return its failure.
    """
    return timeout + max(MIN_GRACE, 0.1 * timeout)


def describe_exit(exitcode: int | None) -> str:
    """Return how a process ended, from ``multiprocessing``'s exit code."""
    if exitcode is None:
        return "exit status unknown"
    if exitcode < 0:
        try:
            return f"signal {signal.Signals(-exitcode).name}"
        except ValueError:
            return f"signal {-exitcode}"
    return f"exit code {exitcode}"


def death_advice(exitcode: int | None) -> str:
    """Return what to check after a worker process died with ``exitcode``."""
    if exitcode == -signal.SIGKILL:
        return (
            "A worker killed with SIGKILL has usually run out of memory: check the "
            "kernel log (dmesg) and lower --n-jobs or --gpu-jobs-per-device."
        )
    if exitcode is not None and exitcode < 0:
        return (
            "A signal other than SIGKILL usually means a crash in compiled code, "
            "such as a segmentation fault in a sampler's or classifier's library."
        )
    return (
        "The worker ended without reporting a result, which happens when code in "
        "the task calls os._exit or a compiled library exits the process."
    )


# --- The worker process ---------------------------------------------------------


def _serve(
    connection: Connection,
    parent_pid: int,
    threads: int,
    warm_up: Callable[[], Any] | None,
) -> None:
    """Run the calls received on ``connection`` until ``None`` or end of file."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for name in THREAD_VARIABLES:
        os.environ[name] = str(threads)
    threading.Thread(
        target=_exit_with_parent, args=(parent_pid,), daemon=True, name="parent-watch"
    ).start()
    if warm_up is not None:
        try:
            warm_up()
        except Exception:  # noqa: BLE001 - the first task reports the same error
            logger.exception("warming up worker process %d failed", os.getpid())

    while True:
        try:
            message = connection.recv()
        except (EOFError, OSError):
            return
        if message is None:
            return
        function, args, kwargs = message
        try:
            # The parent starts the hard time limit when this arrives, so a
            # worker's start-up never counts against its first task.
            connection.send(("started",))
            reply: tuple = ("result", function(*args, **kwargs))
        except Exception as exc:  # noqa: BLE001 - sent to the parent to record
            reply = ("error", f"{type(exc).__name__}: {exc}", traceback.format_exc())
        try:
            connection.send(reply)
        except (BrokenPipeError, OSError):
            return


def _exit_with_parent(parent_pid: int) -> None:
    # Without this, a worker whose parent was killed would finish its current
    # task before noticing. os.getppid() changes once the parent is gone.
    while os.getppid() == parent_pid:
        time.sleep(1.0)
    os._exit(1)


# --- The parent side -------------------------------------------------------------


class WorkerDied(BenchError, RuntimeError):
    """A worker process died while it ran a call of :meth:`LocalPool.map`."""


class _Slot:
    """One worker slot: its device, its process, and the job it runs."""

    def __init__(self, device: str) -> None:
        self.device = device
        self.process: multiprocessing.process.BaseProcess | None = None
        self.connection: Connection | None = None
        self.job: Any = None
        self.deadline = float("inf")

    @property
    def busy(self) -> bool:
        return self.job is not None

    @property
    def worker(self) -> str:
        pid = self.process.pid if self.process is not None else 0
        return f"{socket.gethostname()}:{pid}"

    def discard(self) -> None:
        """Forget a dead or killed process; the next job starts a fresh one."""
        if self.connection is not None:
            self.connection.close()
        if self.process is not None:
            self.process.join(timeout=1.0)
            self.process.close()
        self.process = None
        self.connection = None
        self.job = None
        self.deadline = float("inf")


class LocalPool:
    """Spawned worker processes, one per slot, kept for the length of a run.

    ``devices`` names the device of each slot (see
    :attr:`~benchmark.scheduling.Placement.slots`). Processes start on first
    use and stop when the pool is closed; leaving the ``with`` block on an
    exception kills them at once. ``warm_up`` runs once in each new worker,
    before its first job, so that loading the plugins does not count in that
    job's duration or time limit.
    """

    def __init__(
        self,
        devices: Sequence[str],
        options: ExecutionOptions,
        warm_up: Callable[[], Any] | None = worker_registry,
    ) -> None:
        self.options = options
        self.warm_up = warm_up
        self._slots = [_Slot(device) for device in devices]
        self._context = multiprocessing.get_context("spawn")

    def __enter__(self) -> LocalPool:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *exc_info: Any) -> None:
        self.close(graceful=exc_type is None)

    def map(self, function: Callable[..., Any], calls: Sequence[tuple]) -> list[Any]:
        """Return ``[function(*args) for args in calls]``, computed by the workers.

        Raises
        ------
        WorkerDied
            When a worker dies during a call.
        RuntimeError
            When a call raises; the message contains the worker's traceback.
        """
        results: list[Any] = [None] * len(calls)
        queue = deque(enumerate(calls))
        while queue or any(slot.busy for slot in self._slots):
            for slot in self._slots:
                if not slot.busy and queue:
                    index, args = queue.popleft()
                    self._send(slot, (function, args, {}))
                    slot.job = index
            for slot, kind, payload in self._poll():
                if kind == "died":
                    raise WorkerDied(
                        f"{payload} while running {function.__name__}; it may have "
                        "run out of memory, so try a lower --n-jobs"
                    )
                if kind != "reply":
                    continue
                index, slot.job = slot.job, None
                if payload[0] == "error":
                    arguments = repr(calls[index])[:200]
                    raise RuntimeError(
                        f"{function.__name__}{arguments} failed in a worker "
                        f"process: {payload[1]}\n{payload[2]}"
                    )
                results[index] = payload[1]
        return results

    def run(
        self,
        placement: Placement,
        columns: Columns,
        function: Callable[..., Any] = execute_task,
    ) -> Iterator[Event]:
        """Run every task of ``placement`` and yield what happens, as it happens.

        ``function(task, columns, device=, threads=, timeout=)`` runs in the
        worker and returns a :class:`~benchmark.evaluation.TaskResult`; it is
        :func:`~benchmark.evaluation.execute_task` except in tests.
        """
        attempts: Counter[str] = Counter()
        while len(placement) or any(slot.busy for slot in self._slots):
            for slot in self._slots:
                if not slot.busy and placement.queued(slot.device):
                    task = placement.take(slot.device)
                    assert task is not None
                    attempts[task.key] += 1
                    yield self._dispatch(slot, task, columns, function)
            for slot, kind, payload in self._poll():
                task = slot.job
                if kind == "started":
                    continue
                if kind == "reply":
                    slot.job = None
                    yield self._finished(slot, task, payload)
                elif kind == "overdue":
                    yield self._kill_overdue(slot, task)
                elif attempts[task.key] < MAX_ATTEMPTS:
                    slot.discard()
                    placement.put_back(task)
                    yield Requeued(task, f"{payload} while running the task")
                else:
                    reason = f"{payload} while running the task"
                    yield self._give_up(slot, task, reason, attempts[task.key])

    def close(self, graceful: bool = True) -> None:
        """Stop every worker; unless ``graceful`` is false, idle ones exit cleanly."""
        for slot in self._slots:
            if slot.process is None:
                continue
            assert slot.connection is not None
            if graceful and not slot.busy:
                try:
                    slot.connection.send(None)
                except (BrokenPipeError, OSError):
                    pass
            else:
                slot.process.kill()
        deadline = time.monotonic() + SHUTDOWN_TIMEOUT
        for slot in self._slots:
            if slot.process is None:
                continue
            slot.process.join(timeout=max(0.0, deadline - time.monotonic()))
            if slot.process.exitcode is None:
                logger.warning(
                    "worker process %d did not exit in %.0f s; killing it",
                    slot.process.pid,
                    SHUTDOWN_TIMEOUT,
                )
                slot.process.kill()
            slot.discard()

    # Sending and receiving

    def _dispatch(
        self, slot: _Slot, task: Task, columns: Columns, function: Callable[..., Any]
    ) -> Dispatched:
        split = (task.dataset, task.repeat, task.fold)
        kwargs = {
            "device": slot.device,
            "threads": self.options.threads_per_task,
            "timeout": self.options.timeout,
        }
        self._send(slot, (function, (task, columns[split]), kwargs))
        slot.job = task
        return Dispatched(task, slot.device, slot.worker)

    def _send(self, slot: _Slot, message: tuple) -> None:
        # A worker that died between jobs is replaced before it is charged
        # with this job.
        if slot.process is not None and not slot.process.is_alive():
            slot.discard()
        if slot.process is None:
            self._start(slot)
        assert slot.connection is not None
        try:
            slot.connection.send(message)
        except (BrokenPipeError, OSError):
            slot.discard()
            self._start(slot)
            assert slot.connection is not None
            slot.connection.send(message)

    def _start(self, slot: _Slot) -> None:
        parent_end, child_end = self._context.Pipe()
        process = self._context.Process(
            target=_serve,
            args=(child_end, os.getpid(), self.options.threads_per_task, self.warm_up),
            name=f"bench-worker-{slot.device}",
        )
        process.start()
        child_end.close()
        slot.process, slot.connection = process, parent_end
        logger.debug("started worker process %d for %s", process.pid, slot.device)

    def _poll(self) -> list[tuple[_Slot, str, Any]]:
        """Wait for news from a busy slot and return ``(slot, kind, payload)`` items.

        ``kind`` is ``started`` (the worker began the job, and its hard time
        limit starts now), ``reply`` (payload: the worker's message),
        ``died`` (payload: what happened) or ``overdue`` (the job passed its
        hard time limit).
        """
        busy = [slot for slot in self._slots if slot.busy]
        waitables: list[Any] = []
        for slot in busy:
            assert slot.connection is not None and slot.process is not None
            waitables.extend([slot.connection, slot.process.sentinel])
        deadline = min((slot.deadline for slot in busy), default=float("inf"))
        timeout = None if deadline == float("inf") else deadline - time.monotonic()
        ready = set(
            wait(waitables, timeout=None if timeout is None else max(0, timeout))
        )

        news: list[tuple[_Slot, str, Any]] = []
        for slot in busy:
            assert slot.connection is not None and slot.process is not None
            if slot.connection in ready:
                try:
                    reply = slot.connection.recv()
                except (EOFError, OSError):
                    news.append((slot, "died", self._death(slot)))
                    continue
                if reply[0] == "started":
                    if self.options.timeout is not None:
                        limit = hard_time_limit(self.options.timeout)
                        slot.deadline = time.monotonic() + limit
                    news.append((slot, "started", None))
                else:
                    slot.deadline = float("inf")
                    news.append((slot, "reply", reply))
            elif slot.process.sentinel in ready:
                news.append((slot, "died", self._death(slot)))
            elif time.monotonic() >= slot.deadline:
                news.append((slot, "overdue", None))
        return news

    @staticmethod
    def _death(slot: _Slot) -> str:
        assert slot.process is not None
        slot.process.join(timeout=5.0)
        how = describe_exit(slot.process.exitcode)
        return f"worker process {slot.process.pid} died ({how})"

    # Turning news into events

    @staticmethod
    def _finished(slot: _Slot, task: Task, reply: tuple) -> Finished:
        if reply[0] == "result":
            return Finished(task, reply[1])
        result = failed_result(task, slot.device, reply[1], slot.worker)
        result.traceback = reply[2]
        return Finished(task, result)

    @staticmethod
    def _give_up(slot: _Slot, task: Task, reason: str, attempts: int) -> Finished:
        device, worker = slot.device, slot.worker
        exitcode = slot.process.exitcode if slot.process is not None else None
        slot.discard()
        error = (
            f"WorkerDied: {reason}, on {attempts} of {MAX_ATTEMPTS} attempts. "
            f"{death_advice(exitcode)}"
        )
        return Finished(task, failed_result(task, device, error, worker), "died")

    def _kill_overdue(self, slot: _Slot, task: Task) -> Finished:
        assert slot.process is not None and self.options.timeout is not None
        device, worker, pid = slot.device, slot.worker, slot.process.pid
        slot.process.kill()
        slot.discard()
        timeout = self.options.timeout
        grace = hard_time_limit(timeout) - timeout
        error = (
            f"TaskTimeout: timed out after {timeout:g} s; worker process {pid} was "
            f"killed because the task was still running {grace:g} s later"
        )
        return Finished(task, failed_result(task, device, error, worker), "timed out")


def run_inline(
    placement: Placement,
    columns: Columns,
    options: ExecutionOptions,
    function: Callable[..., Any] = execute_task,
) -> Iterator[Event]:
    """Run every task in this process, one after another, on the CPU.

    For debugging: a breakpoint in a plugin works, but a task that crashes the
    interpreter ends the run, and ``--timeout`` has only its soft limit.
    """
    worker = f"{socket.gethostname()}:{os.getpid()}"
    while len(placement):
        task = placement.take(CPU)
        assert task is not None
        yield Dispatched(task, CPU, worker)
        split = (task.dataset, task.repeat, task.fold)
        result = function(
            task,
            columns[split],
            device=CPU,
            threads=options.threads_per_task,
            timeout=options.timeout,
        )
        yield Finished(task, result)
