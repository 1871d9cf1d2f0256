"""Find the devices a run can use and decide which worker slot runs each task.

A run has a pool of CPU worker slots (``--n-jobs``) and, for every GPU, a pool
of ``--gpu-jobs-per-device`` slots. A task whose sampler or classifier can use
a GPU (``can_use_gpu`` in its spec) waits for a GPU slot when the run has a
GPU; every other task waits for a CPU slot. Both pools run at the same time.
Without a GPU every task runs on the CPU pool.

Placement never depends on timing: a GPU-capable task never falls back to a
free CPU slot while GPUs exist, so whether a task ran on a GPU does not change
between runs. Which of several GPUs it ran on may change.
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
import warnings
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from benchmark.errors import BenchWarning, ConfigurationError

# Imported for annotations only, so that the command line can read the
# options and CPU count here without loading scikit-learn.
if TYPE_CHECKING:
    from benchmark.evaluation import TaskResult
    from benchmark.plugins import Registry
    from benchmark.tasks import Task

__all__ = [
    "BACKENDS",
    "CPU",
    "Dispatched",
    "ExecutionOptions",
    "Finished",
    "Placement",
    "Requeued",
    "discover_devices",
    "parse_device_option",
    "parse_visible_devices",
    "task_wants_gpu",
    "usable_cpu_count",
]

logger = logging.getLogger(__name__)

CPU = "cpu"
BACKENDS = ("local", "inline", "dask")
VISIBLE_DEVICES_ENV = "CUDA_VISIBLE_DEVICES"

# Seconds to wait for the child process that counts CUDA devices.
DEVICE_COUNT_TIMEOUT = 120


@dataclass(frozen=True)
class ExecutionOptions:
    """Settings for where the tasks of a run execute; none of them changes results.

    ``devices`` lists GPU device names such as ``"cuda:0"``; ``None`` means
    discover them with :func:`discover_devices`, and an empty tuple means CPU
    only. ``timeout`` is the time limit of one task in seconds, or ``None``.
    ``scheduler`` is the address of a dask scheduler for the ``dask`` backend.
    """

    n_jobs: int = 1
    threads_per_task: int = 1
    backend: str = "local"
    devices: tuple[str, ...] | None = None
    gpu_jobs_per_device: int = 1
    timeout: float | None = None
    scheduler: str | None = None

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise ConfigurationError(
                f"unknown backend {self.backend!r}; choose one of "
                f"{', '.join(BACKENDS)}."
            )
        for name in ("n_jobs", "threads_per_task", "gpu_jobs_per_device"):
            if getattr(self, name) < 1:
                raise ConfigurationError(
                    f"{name} must be at least 1, got {getattr(self, name)}."
                )
        if self.timeout is not None and self.timeout <= 0:
            raise ConfigurationError(
                f"timeout must be a positive number of seconds, got {self.timeout}."
            )
        if self.scheduler is not None and self.backend != "dask":
            raise ConfigurationError(
                "a scheduler address is only used with the dask backend; add "
                "--backend dask or leave out --scheduler."
            )


def usable_cpu_count() -> int:
    """Return the number of CPUs this process may run on.

    This is the CPU affinity mask (which taskset, cgroups cpusets and batch
    schedulers such as SLURM restrict), not ``os.cpu_count()``, which counts
    every CPU of the machine.
    """
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


# --- Devices ------------------------------------------------------------------


def parse_visible_devices(value: str) -> list[str]:
    """Return the device ids that a ``CUDA_VISIBLE_DEVICES`` value makes visible.

    This follows the CUDA runtime's rules. Ids are separated by commas. The
    list ends at the first id that is not a non-negative integer, or, in a
    list of UUIDs, at the first id without the ``GPU-`` or ``MIG-`` prefix of
    the first one. A repeated id hides every device. So ``""``, ``"-1"`` and
    ``"NoDevFiles"`` mean no device, and ``"0,1,-1,2"`` means devices 0 and 1.
    """
    entries = [entry.strip() for entry in value.split(",")]
    prefix = next((p for p in ("GPU-", "MIG-") if entries[0].startswith(p)), None)
    ids: list[str] = []
    for entry in entries:
        if prefix is not None:
            if not entry.startswith(prefix):
                break
            device_id = entry
        else:
            digits = re.match(r"\+?\d+", entry)
            if digits is None:
                break
            device_id = str(int(digits.group()))
        if device_id in ids:
            return []
        ids.append(device_id)
    return ids


def parse_device_option(values: Sequence[str]) -> tuple[str, ...]:
    """Parse ``--devices``: ``cpu``, or GPU ordinals such as ``0,1`` or ``cuda:1``.

    Returns torch device names (``"cuda:0"``); ``cpu`` alone returns an empty
    tuple, which means no GPU.
    """
    tokens = [t.strip() for value in values for t in value.split(",") if t.strip()]
    if tokens == [CPU]:
        return ()
    devices = []
    for token in tokens:
        match = re.fullmatch(r"(?:cuda:)?(\d+)", token)
        if match is None:
            raise ConfigurationError(
                f"invalid device {token!r} in --devices; use 'cpu' alone, or GPU "
                "ordinals such as '0,1' or 'cuda:0 cuda:1'."
            )
        devices.append(f"cuda:{int(match.group(1))}")
    if not devices:
        raise ConfigurationError("--devices needs 'cpu' or at least one GPU ordinal.")
    if len(set(devices)) != len(devices):
        raise ConfigurationError(f"--devices lists a device twice: {' '.join(tokens)}")
    return tuple(devices)


def discover_devices(
    environ: Mapping[str, str] | None = None,
    *,
    cuda_built: bool | None = None,
    count_devices: Callable[[], int] | None = None,
) -> tuple[str, ...]:
    """Return the GPUs the run can use, as ``("cuda:0", "cuda:1", ...)``.

    If ``CUDA_VISIBLE_DEVICES`` is set, its ids are counted by the CUDA
    runtime's rules (see :func:`parse_visible_devices`), and torch numbers
    the visible devices from 0. Otherwise ``torch.cuda.device_count()`` runs in
    a child process, so this process never initialises CUDA: torch falls back
    to the CUDA runtime when NVML is unavailable, and a process that has
    initialised CUDA must not fork. A torch built without CUDA means no GPU.

    ``environ``, ``cuda_built`` and ``count_devices`` replace the process
    environment, ``torch.backends.cuda.is_built()`` and the child process.
    """
    environ = os.environ if environ is None else environ
    if cuda_built is None:
        import torch

        cuda_built = bool(torch.backends.cuda.is_built())

    visible = environ.get(VISIBLE_DEVICES_ENV)
    if visible is not None:
        count = len(parse_visible_devices(visible))
        if count and not cuda_built:
            warnings.warn(
                f"{VISIBLE_DEVICES_ENV}={visible!r} lists {count} GPU(s), but the "
                "installed torch was built without CUDA, so every task runs on the "
                "CPU. Install a CUDA build of torch to use the GPUs.",
                BenchWarning,
                stacklevel=2,
            )
            return ()
    elif not cuda_built:
        return ()
    else:
        count = (count_devices or _count_cuda_devices)()
    return tuple(f"cuda:{index}" for index in range(count))


def _count_cuda_devices() -> int:
    code = "import torch; print(torch.cuda.device_count())"
    try:
        completed = subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            timeout=DEVICE_COUNT_TIMEOUT,
            check=True,
        )
        return int(completed.stdout.strip().splitlines()[-1])
    except (subprocess.SubprocessError, ValueError, IndexError) as exc:
        logger.warning(
            "counting CUDA devices failed (%s); running every task on the CPU. "
            "Name the GPUs with --devices to skip the count.",
            exc,
        )
        return 0


def task_wants_gpu(task: Task, registry: Registry) -> bool:
    """Return whether a GPU slot should run ``task``.

    True when the sampler or the classifier can use a GPU and the user left
    its ``device`` parameter to the scheduler. A component whose ``device``
    the user set runs on that device, from a CPU slot.
    """
    for spec, choice in (
        (registry.sampler(task.sampler.name), task.sampler),
        (registry.classifier(task.classifier.name), task.classifier),
    ):
        if spec.can_use_gpu and "device" not in {**spec.params, **choice.params}:
            return True
    return False


# --- Placement ----------------------------------------------------------------


class Placement:
    """The queues of pending tasks and the worker slots that drain them.

    ``slots`` names the device of every worker slot: ``n_jobs`` CPU slots when
    some task needs the CPU, and ``gpu_jobs_per_device`` slots per GPU when
    some task wants a GPU. A slot runs one task at a time, so a device never
    runs more tasks at once than it has slots. Tasks leave each queue in the
    order given, except that :meth:`put_back` puts a task at the front.
    """

    def __init__(
        self,
        tasks: Iterable[Task],
        wants_gpu: Callable[[Task], bool],
        devices: Sequence[str],
        n_jobs: int,
        gpu_jobs_per_device: int,
    ) -> None:
        self.devices = tuple(devices)
        self._queues: dict[str, deque[Task]] = {CPU: deque(), "gpu": deque()}
        self._kind: dict[str, str] = {}
        for task in tasks:
            kind = "gpu" if self.devices and wants_gpu(task) else CPU
            self._kind[task.key] = kind
            self._queues[kind].append(task)

        self.slots: list[str] = []
        if self._queues[CPU]:
            self.slots.extend([CPU] * n_jobs)
        if self._queues["gpu"]:
            for device in self.devices:
                self.slots.extend([device] * gpu_jobs_per_device)

    def __len__(self) -> int:
        return len(self._queues[CPU]) + len(self._queues["gpu"])

    def queued(self, device: str) -> int:
        """Return how many tasks wait for a slot on ``device``."""
        return len(self._queues[CPU if device == CPU else "gpu"])

    def take(self, device: str) -> Task | None:
        """Remove and return the next task for a free slot on ``device``."""
        queue = self._queues[CPU if device == CPU else "gpu"]
        return queue.popleft() if queue else None

    def put_back(self, task: Task) -> None:
        """Queue ``task`` again, ahead of the tasks that never started."""
        self._queues[self._kind[task.key]].appendleft(task)

    def kind(self, task: Task) -> str:
        """Return ``"gpu"`` or ``"cpu"``: the pool that runs ``task``."""
        return self._kind[task.key]


# --- What a backend reports ------------------------------------------------------


@dataclass
class Dispatched:
    """A task was sent to a worker: ``worker`` is ``host:pid`` or an address."""

    task: Task
    device: str
    worker: str


@dataclass
class Finished:
    """A task ended. ``result`` is failed when the worker died or timed out."""

    task: Task
    result: TaskResult
    outcome: str = "finished"


@dataclass
class Requeued:
    """A task's worker died and the task waits to run again in a fresh one."""

    task: Task
    reason: str
    outcome: str = "died"


def failed_result(task: Task, device: str, error: str, worker: str = "") -> TaskResult:
    """Return the failed result of a task that ended without a result of its own.

    There is no Python traceback for such a task, so the error doubles as the
    traceback, which ``failures.log`` shows.
    """
    from benchmark.evaluation import TaskResult

    return TaskResult(
        key=task.key,
        dataset=task.dataset,
        sampler=task.sampler.label,
        classifier=task.classifier.label,
        repeat=task.repeat,
        fold=task.fold,
        seed=task.seed,
        status="failed",
        error=error,
        traceback=error + "\n",
        device=device,
        worker=worker,
    )
