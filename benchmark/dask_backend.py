"""Run tasks on a dask.distributed cluster instead of local worker processes.

The parent process stays the single writer of the run directory: it submits
tasks with ``Client.submit`` and stores each result as it arrives, exactly as
with local workers, so resuming, ``--retry-failed`` and the exported files
work the same way. Each task's seed comes from the task itself, so results
match a local run as long as the workers run the same package versions, which
:func:`check_worker_versions` enforces before any task is submitted.

Failure handling maps onto dask's own:

* A worker that dies makes the scheduler run its tasks elsewhere, and a task
  that was running on ``distributed.scheduler.allowed-failures`` + 1 dying
  workers fails with ``KilledWorker``. That is recorded as a failed task.
  For the local rule (one retry, so failure on the second death) set
  ``allowed-failures`` to 1 in the scheduler's configuration; the cluster
  this module starts itself uses that value.
* ``--timeout`` raises :class:`~benchmark.evaluation.TaskTimeout` inside the
  task, which runs in a worker thread. A task that ignores it is recorded as
  timed out by the parent once the hard limit passes and its future is
  cancelled, but its thread cannot be stopped and runs until it returns.
* GPU-capable tasks request the worker resource ``GPU`` when some worker
  offers it (``dask worker --resources GPU=1``, one worker per GPU, as
  dask-cuda starts them) and run with device ``cuda:0`` of that worker.
  Without such workers they run on the CPU.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import numpy as np

from benchmark.errors import ConfigurationError
from benchmark.evaluation import execute_task
from benchmark.scheduling import (
    CPU,
    Dispatched,
    ExecutionOptions,
    Finished,
    Placement,
    failed_result,
)
from benchmark.tasks import Task
from benchmark.workers import MAX_ATTEMPTS, hard_time_limit

__all__ = ["GPU_RESOURCE", "DaskBackend", "check_worker_versions"]

logger = logging.getLogger(__name__)

GPU_RESOURCE = "GPU"
WORKER_DEVICE = "cuda:0"
CONNECT_TIMEOUT = "30s"

# Seconds between checks of the hard time limit while tasks run.
POLL_INTERVAL = 1.0

Columns = dict[tuple[str, int, int], np.ndarray]


def _import_distributed() -> Any:
    try:
        import distributed
    except ImportError as exc:
        raise ConfigurationError(
            "the dask backend needs dask.distributed, which is not installed "
            f"({exc}). Install it with `pip install 'oversampling-bench[dask]'`."
        ) from None
    return distributed


def check_worker_versions(
    client: Any, expected: dict[str, str], versions: Callable[[], dict[str, str]]
) -> None:
    """Raise ConfigurationError when a worker's package versions differ from ours.

    Task keys include the parent's versions, so a worker with other versions
    would store results under keys that do not describe them.
    """
    problems = []
    for address, found in sorted(client.run(versions).items()):
        differing = [
            f"{name} {found.get(name, 'missing')} (here {version})"
            for name, version in sorted(expected.items())
            if found.get(name) != version
        ]
        if differing:
            problems.append(f"  {address}: {', '.join(differing)}")
    if problems:
        raise ConfigurationError(
            "dask workers run other package versions than this process:\n"
            + "\n".join(problems)
            + "\nInstall the same versions on every worker, then run again."
        )


class DaskBackend:
    """A client of a dask scheduler, or of a local cluster started here.

    Use it as a context manager: entering connects and checks the workers'
    package versions, leaving closes the client and any cluster started
    here. Without ``options.scheduler`` a ``LocalCluster`` of
    ``options.n_jobs`` single-threaded worker processes on 127.0.0.1 is
    started for the run.
    """

    def __init__(
        self,
        options: ExecutionOptions,
        versions: Callable[[], dict[str, str]],
    ) -> None:
        self.options = options
        self.versions = versions
        self._distributed = _import_distributed()
        self._stack = contextlib.ExitStack()
        self.client: Any = None

    def __enter__(self) -> DaskBackend:
        try:
            self.client = self._stack.enter_context(self._connect())
            check_worker_versions(self.client, self.versions(), self.versions)
        except BaseException:
            self._stack.close()
            raise
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self._stack.close()

    def map(self, function: Callable[..., Any], calls: Iterable[tuple]) -> list[Any]:
        """Return ``[function(*args) for args in calls]``, computed on the cluster."""
        calls = list(calls)
        if not calls:
            return []
        futures = self.client.map(function, *zip(*calls, strict=True), pure=False)
        return self.client.gather(futures)

    def run(
        self,
        tasks: Iterable[Task],
        wants_gpu: Callable[[Task], bool],
        columns: Columns,
        function: Callable[..., Any] = execute_task,
    ) -> Iterator[Dispatched | Finished]:
        """Run ``tasks`` on the cluster and yield what happens, as it happens."""
        devices = (WORKER_DEVICE,) if _gpu_count(self.client) else ()
        placement = Placement(tasks, wants_gpu, devices, 1, 1)
        in_flight: dict[Any, tuple[Task, str, float]] = {}
        while len(placement) or in_flight:
            capacity = {CPU: max(1, sum(self.client.nthreads().values()))}
            if placement.devices:
                capacity[WORKER_DEVICE] = max(1, _gpu_count(self.client))
            for device, limit in capacity.items():
                running = sum(1 for _, d, _ in in_flight.values() if d == device)
                for _ in range(limit - running):
                    task = placement.take(device)
                    if task is None:
                        break
                    future = self._submit(function, task, device, columns)
                    in_flight[future] = (task, device, time.monotonic())
                    yield Dispatched(task, device, self.options.scheduler or "local")

            try:
                done = self._distributed.wait(
                    list(in_flight),
                    timeout=POLL_INTERVAL,
                    return_when="FIRST_COMPLETED",
                ).done
            except TimeoutError:
                done = set()
            for future in done:
                task, device, _ = in_flight.pop(future)
                yield self._finished(future, task, device)
            yield from self._cancel_overdue(in_flight)

    @contextlib.contextmanager
    def _connect(self) -> Iterator[Any]:
        distributed = self._distributed
        if self.options.scheduler is None:
            import dask

            # The scheduler of a LocalCluster lives in this process and reads
            # allowed-failures when it starts.
            allowed = {"distributed.scheduler.allowed-failures": MAX_ATTEMPTS - 1}
            with dask.config.set(allowed):
                cluster = distributed.LocalCluster(
                    n_workers=self.options.n_jobs,
                    threads_per_worker=1,
                    processes=True,
                    host="127.0.0.1",
                    dashboard_address=None,
                )
            with cluster, distributed.Client(cluster) as client:
                yield client
            return
        try:
            client = distributed.Client(self.options.scheduler, timeout=CONNECT_TIMEOUT)
        except OSError as exc:
            raise ConfigurationError(
                f"could not connect to the dask scheduler at {self.options.scheduler}: "
                f"{exc}. Start one with `dask scheduler` and workers with "
                "`dask worker <address>`, then pass its address to --scheduler."
            ) from None
        with client:
            yield client

    def _submit(
        self, function: Callable[..., Any], task: Task, device: str, columns: Columns
    ) -> Any:
        split = (task.dataset, task.repeat, task.fold)
        resources = {GPU_RESOURCE: 1} if device != CPU else None
        return self.client.submit(
            function,
            task,
            columns[split],
            device=device,
            threads=self.options.threads_per_task,
            timeout=self.options.timeout,
            key=f"bench-task-{task.key}-{time.time_ns()}",
            pure=False,
            resources=resources,
            retries=0,
        )

    def _finished(self, future: Any, task: Task, device: str) -> Finished:
        if future.status == "finished":
            return Finished(task, future.result())
        if future.status == "cancelled":
            error = "CancelledError: the dask scheduler cancelled the task"
            return Finished(task, failed_result(task, device, error))
        exception = future.exception()
        name = type(exception).__name__
        if name == "KilledWorker":
            error = (
                f"WorkerDied: every dask worker that ran the task died ({exception}). "
                "A worker killed by the operating system has usually run out of "
                "memory: give the workers more memory or fewer threads."
            )
            return Finished(task, failed_result(task, device, error), "died")
        error = f"{name}: {exception}"
        return Finished(task, failed_result(task, device, error))

    def _cancel_overdue(
        self, in_flight: dict[Any, tuple[Task, str, float]]
    ) -> Iterator[Finished]:
        if self.options.timeout is None:
            return
        timeout = self.options.timeout
        now = time.monotonic()
        for future, (task, device, submitted) in list(in_flight.items()):
            if now - submitted < hard_time_limit(timeout):
                continue
            del in_flight[future]
            future.cancel()
            error = (
                f"TaskTimeout: timed out after {timeout:g} s; the task did not stop "
                "at its time limit, so its future was cancelled, but the dask "
                "worker thread that runs it goes on until the task returns"
            )
            yield Finished(task, failed_result(task, device, error), "timed out")


def _gpu_count(client: Any) -> int:
    """Return how many ``GPU`` resources the cluster's workers offer in all."""
    workers = client.scheduler_info()["workers"].values()
    return int(sum(w.get("resources", {}).get(GPU_RESOURCE, 0) for w in workers))
