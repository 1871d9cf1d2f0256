"""Time parallel runs, the harness's own cost per task, and resuming a finished run.

Three measurements on the embedded data, each in fresh run directories:

1. Speed-up of ``--n-jobs 2`` over ``--n-jobs 1`` on a CPU-bound run: random
   forests (200 trees) after SMOTE-family samplers on dbcd and gse7390.
   Feature selection is a separate stage, so every timed run starts from a
   copy of the same ``selected_features.json`` and selection is not timed.
   "wall" is the whole ``run_benchmark`` call, including starting the worker
   processes; "task stage" is the first dispatch to the last result, and
   also includes worker start-up, because the selection is cached.
2. Harness overhead per task with one worker: the task stage minus the sum of
   the tasks' own durations, divided by the number of tasks, for a trivial
   task (no resampling, logistic regression) and a typical one (SMOTE, random
   forest).
3. Resuming the finished run of step 1 with ``bench run`` in a subprocess
   (interpreter start, imports, plugin loading, export included) and with
   ``run_benchmark`` in this process.

Usage::

    python benchmarks/bench_parallel.py [--repeats 2] [--output results.json]

The results depend on the machine and on what else runs on it, so the script
prints the number of usable CPUs and the load average next to them.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from benchmark.plugins import load_registry
from benchmark.runner import run_benchmark
from benchmark.scheduling import ExecutionOptions, usable_cpu_count
from benchmark.store import ResultStore
from benchmark.tasks import RunConfig, parse_choice

REPOSITORY = Path(__file__).resolve().parent.parent
SAMPLERS = ("smote", "borderline-smote-1", "borderline-smote-2", "random")


def make_config(
    datasets: tuple[str, ...],
    samplers: tuple[str, ...],
    classifier: str,
    repeats: int,
) -> RunConfig:
    return RunConfig(
        datasets=datasets,
        samplers=tuple(parse_choice(s) for s in samplers),
        classifiers=(parse_choice(classifier),),
        folds=5,
        repeats=repeats,
        data_dir=REPOSITORY / "datasets",
    )


def task_stage(run_dir: Path) -> dict[str, float]:
    """Return the task stage's span, the sum of task durations, and the task count.

    ``startup`` is the mean start-up time of a worker process: the time from
    sending a worker its first task to its result, minus that task's duration.
    """
    with ResultStore(run_dir / "results.sqlite") as store:
        attempts = store.attempts_frame()
        tasks = store.tasks_frame()
    span = attempts["finished_at"].max() - attempts["started_at"].min()
    first = attempts.sort_values("id").drop_duplicates("worker")
    first = first.merge(tasks[["key", "duration"]], on="key")
    startup = first["finished_at"] - first["started_at"] - first["duration"]
    return {
        "task_stage": float(span),
        "task_seconds": float(tasks["duration"].sum()),
        "tasks": len(tasks),
        "startup": float(startup.mean()),
    }


def timed_run(
    config: RunConfig, registry, run_dir: Path, cache: Path | None, n_jobs: int
) -> dict[str, float]:
    run_dir.mkdir(parents=True)
    if cache is not None:
        shutil.copy(cache, run_dir / "selected_features.json")
    started = time.perf_counter()
    summary = run_benchmark(
        config,
        registry,
        run_dir,
        execution=ExecutionOptions(n_jobs=n_jobs),
        show_progress=False,
    )
    wall = time.perf_counter() - started
    assert not summary.failed, summary.failed[0].error
    return {"wall": wall, **task_stage(run_dir)}


def measure_speedup(registry, root: Path, repeats: int) -> dict:
    config = make_config(("dbcd", "gse7390"), SAMPLERS, "rf", repeats)
    # A quick untimed run on the same splits computes the feature selection
    # that every timed run reuses.
    warm = root / "selection"
    selection_only = make_config(config.datasets, ("none",), "logreg", repeats)
    run_benchmark(
        selection_only,
        registry,
        warm,
        execution=ExecutionOptions(n_jobs=2),
        show_progress=False,
    )
    cache = warm / "selected_features.json"
    serial = timed_run(config, registry, root / "serial", cache, 1)
    parallel = timed_run(config, registry, root / "parallel", cache, 2)
    same = (root / "serial" / "scores.csv").read_bytes() == (
        root / "parallel" / "scores.csv"
    ).read_bytes()
    return {
        "serial": serial,
        "parallel": parallel,
        "speedup_wall": serial["wall"] / parallel["wall"],
        "speedup_task_stage": serial["task_stage"] / parallel["task_stage"],
        "speedup_after_startup": (serial["task_stage"] - serial["startup"])
        / (parallel["task_stage"] - parallel["startup"]),
        "scores_identical": same,
        "run_dir": str(root / "parallel"),
        "config": config,
    }


def measure_overhead(registry, root: Path, repeats: int) -> dict:
    rows = {}
    for name, sampler, classifier in (
        ("trivial", "none", "logreg"),
        ("typical", "smote", "rf"),
    ):
        config = make_config(("gse7390",), (sampler,), classifier, repeats)
        run = timed_run(config, registry, root / f"overhead-{name}", None, 1)
        per_task = run["task_seconds"] / run["tasks"]
        overhead = (run["task_stage"] - run["task_seconds"]) / run["tasks"]
        rows[name] = {
            **run,
            "mean_task_seconds": per_task,
            "overhead_per_task": overhead,
        }
    rows["overhead_share_of_typical"] = (
        rows["typical"]["overhead_per_task"] / rows["typical"]["mean_task_seconds"]
    )
    return rows


def measure_resume(registry, run_dir: Path, config: RunConfig) -> dict:
    started = time.perf_counter()
    summary = run_benchmark(
        config,
        registry,
        run_dir,
        execution=ExecutionOptions(n_jobs=2),
        show_progress=False,
    )
    in_process = time.perf_counter() - started
    assert summary.finished == 0

    argv = [
        sys.executable,
        "-m",
        "benchmark.cli",
        "run",
        "--samplers",
        *SAMPLERS,
        "--classifiers",
        "rf",
        "--datasets",
        *config.datasets,
        "--folds",
        str(config.folds),
        "--repeats",
        str(config.repeats),
        "--n-jobs",
        "2",
        "--no-progress",
        "--output",
        str(run_dir),
    ]
    started = time.perf_counter()
    completed = subprocess.run(argv, capture_output=True, text=True, check=True)
    command = time.perf_counter() - started
    assert "0 task(s) run" in completed.stdout, completed.stdout
    return {"in_process": in_process, "command": command}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--repeats", type=int, default=2, help="cross-validation repeats (default: 2)"
    )
    parser.add_argument("--output", type=Path, help="also write the results as JSON")
    args = parser.parse_args()

    registry = load_registry()
    with tempfile.TemporaryDirectory(prefix="bench-parallel-") as tmp:
        root = Path(tmp)
        speedup = measure_speedup(registry, root, args.repeats)
        overhead = measure_overhead(registry, root, args.repeats)
        resume = measure_resume(registry, Path(speedup["run_dir"]), speedup["config"])

    speedup.pop("config")
    speedup.pop("run_dir")
    results = {
        "host": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "usable_cpus": usable_cpu_count(),
            "load_average_1min": os.getloadavg()[0],
        },
        "speedup": speedup,
        "overhead": overhead,
        "resume": resume,
    }
    print_report(results)
    if args.output:
        args.output.write_text(json.dumps(results, indent=2) + "\n")


def print_report(results: dict) -> None:
    host = results["host"]
    load = host["load_average_1min"]
    print(
        f"{host['usable_cpus']} usable CPUs, load average {load:.1f}, "
        f"Python {host['python']} on {host['platform']}\n"
    )
    speedup = results["speedup"]
    table = pd.DataFrame(
        {
            "n_jobs": [1, 2],
            "tasks": [speedup["serial"]["tasks"], speedup["parallel"]["tasks"]],
            "wall s": [speedup["serial"]["wall"], speedup["parallel"]["wall"]],
            "task stage s": [
                speedup["serial"]["task_stage"],
                speedup["parallel"]["task_stage"],
            ],
            "sum of task s": [
                speedup["serial"]["task_seconds"],
                speedup["parallel"]["task_seconds"],
            ],
            "worker start-up s": [
                speedup["serial"]["startup"],
                speedup["parallel"]["startup"],
            ],
        }
    )

    print("CPU-bound run (rf after SMOTE-family samplers, dbcd and gse7390)")
    print(table.round(2).to_string(index=False))
    print(
        f"speed-up: {speedup['speedup_wall']:.2f}x wall, "
        f"{speedup['speedup_task_stage']:.2f}x task stage, "
        f"{speedup['speedup_after_startup']:.2f}x task stage after worker start-up; "
        f"scores identical: {speedup['scores_identical']}\n"
    )

    overhead = results["overhead"]
    for name in ("trivial", "typical"):
        row = overhead[name]
        print(
            f"{name} task: mean {row['mean_task_seconds'] * 1000:.1f} ms, harness "
            f"overhead {row['overhead_per_task'] * 1000:.1f} ms per task"
        )
    print(
        "overhead as a share of a typical task: "
        f"{overhead['overhead_share_of_typical']:.1%}\n"
    )

    resume = results["resume"]
    print(
        f"resuming the finished run: {resume['command']:.2f} s with `bench run`, "
        f"{resume['in_process']:.2f} s in process"
    )


if __name__ == "__main__":
    main()
