"""The ``bench`` command line: list components, run benchmarks, print reports."""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import sys
import time
import warnings
from collections.abc import Sequence
from pathlib import Path

from benchmark.errors import BenchError, BenchWarning, ConfigurationError
from benchmark.plugins import DISABLE_ENV, Registry, load_registry
from benchmark.scheduling import (
    BACKENDS,
    ExecutionOptions,
    parse_device_option,
    usable_cpu_count,
)
from benchmark.tasks import PROTOCOLS, ComponentChoice, RunConfig, parse_choice

logger = logging.getLogger("benchmark")

DEFAULT_DATASETS = ("omics",)
DEFAULT_CLASSIFIERS = ("mlp",)
DATA_DIR_ENV = "BENCH_DATA_DIR"

# The smoke run: the same pipeline and samplers on fewer splits.
QUICK = {"folds": 3, "repeats": 1, "datasets": ("gse7390",)}
# Notes printed at the end of a run; results.sqlite keeps all of them.
MAX_NOTES_SHOWN = 20


def default_data_dir() -> Path:
    """Return ``$BENCH_DATA_DIR``, else the repository's ``datasets/`` folder."""
    if os.environ.get(DATA_DIR_ENV):
        return Path(os.environ[DATA_DIR_ENV])
    return Path(__file__).resolve().parent.parent / "datasets"


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a whole number, got {text!r}"
        ) from None
    if value < 1:
        raise argparse.ArgumentTypeError(
            f"expected a number of at least 1, got {value}"
        )
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text}")
    return value


def _at_least_two(text: str) -> int:
    value = _positive_int(text)
    if value < 2:
        raise argparse.ArgumentTypeError(
            f"cross-validation needs at least 2 folds, got {value}"
        )
    return value


def _jobs(text: str) -> int | str:
    if text == "auto":
        return text
    return _positive_int(text)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bench",
        description="Benchmark oversamplers on imbalanced tabular data.",
    )
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="log one line per finished task"
    )
    commands = parser.add_subparsers(dest="command", required=True)

    listing = commands.add_parser("list", help="list registered components")
    listing.add_argument(
        "kind", choices=["samplers", "datasets", "classifiers", "metrics"]
    )
    listing.add_argument("--data-dir", type=Path, default=None)

    commands.add_parser("plugins", help="list loaded plugins and load failures")

    run = commands.add_parser("run", help="run a benchmark and print its leaderboard")
    run.add_argument(
        "--samplers",
        nargs="+",
        default=["all"],
        metavar="NAME[:KEY=VALUE,...]",
        help="samplers to compare, 'all' for every registered one (default: all)",
    )
    run.add_argument(
        "--datasets",
        nargs="+",
        default=None,
        metavar="NAME",
        help="dataset or suite names (default: the omics suite)",
    )
    run.add_argument(
        "--classifiers",
        nargs="+",
        default=None,
        metavar="NAME[:KEY=VALUE,...]",
        help=f"classifiers (default: {' '.join(DEFAULT_CLASSIFIERS)})",
    )
    run.add_argument(
        "--folds", type=_at_least_two, default=None, help="at least 2 (default: 5)"
    )
    run.add_argument(
        "--repeats",
        type=_positive_int,
        default=None,
        help="default: 2, or 1 with --protocol paper",
    )
    run.add_argument("--seed", type=int, default=42, help="run seed (default: 42)")
    run.add_argument(
        "--n-features",
        type=_positive_int,
        default=64,
        help="features kept by mutual-information selection (default: 64)",
    )
    run.add_argument(
        "--protocol",
        choices=PROTOCOLS,
        default="default",
        help="'default' fits every step inside the training fold; 'paper' "
        "reproduces the LEO-CVAE paper: selection on the whole dataset (leaky), "
        "resampling before scaling, one repeat",
    )
    run.add_argument(
        "--n-jobs",
        type=_jobs,
        default="auto",
        metavar="N",
        help="worker processes for CPU tasks, or 'auto' for one per usable CPU "
        f"divided by --threads-per-task ({usable_cpu_count()} usable here; "
        "default: auto). Scores do not depend on this number.",
    )
    run.add_argument(
        "--threads-per-task",
        type=_positive_int,
        default=1,
        metavar="N",
        help="BLAS and torch threads per task (default: 1, which keeps scores "
        "bit-identical for every --n-jobs)",
    )
    run.add_argument(
        "--timeout",
        type=_positive_float,
        default=None,
        metavar="SECONDS",
        help="record a task that runs longer as failed and go on (default: none)",
    )
    run.add_argument(
        "--devices",
        nargs="+",
        default=None,
        metavar="DEVICE",
        help="GPUs for tasks that can use one, such as '0,1' or 'cuda:0', or 'cpu' "
        "for none (default: CUDA_VISIBLE_DEVICES, else every GPU torch finds)",
    )
    run.add_argument(
        "--gpu-jobs-per-device",
        type=_positive_int,
        default=1,
        metavar="N",
        help="tasks running at once on each GPU (default: 1)",
    )
    run.add_argument(
        "--backend",
        choices=BACKENDS,
        default="local",
        help="where tasks run: 'local' worker processes, 'inline' in this process "
        "for debugging, or a 'dask' cluster (default: local)",
    )
    run.add_argument(
        "--scheduler",
        default=None,
        metavar="ADDRESS",
        help="dask scheduler address such as tcp://10.0.0.5:8786, with --backend "
        "dask (default: start a local cluster of --n-jobs workers)",
    )
    run.add_argument(
        "--output",
        type=Path,
        default=None,
        help="run directory; an existing one is resumed (default: runs/<timestamp>)",
    )
    run.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help=f"folder with downloaded datasets (default: ${DATA_DIR_ENV} or datasets/)",
    )
    run.add_argument(
        "--retry-failed", action="store_true", help="run failed tasks again on resume"
    )
    run.add_argument(
        "--quick",
        action="store_true",
        help="smoke run: 3 folds, 1 repeat, gse7390 unless --datasets is given",
    )
    run.add_argument(
        "--metric", default="auc", help="leaderboard metric (default: auc)"
    )
    run.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    run.add_argument(
        "--plots",
        action="store_true",
        help="save the training curves of samplers that record them (LEO-CVAE "
        "and its variants) under <run directory>/plots, one PNG per task",
    )

    report = commands.add_parser(
        "report",
        help="print leaderboards with significance tests",
        description="Print one leaderboard per classifier (mean ± std and rank of "
        "each sampler on each dataset, average rank) with the Friedman test, its "
        "post-hoc tests and Wilcoxon signed-rank tests across datasets and, with "
        "--control, the corrected and Bayesian t-tests within each dataset.",
    )
    report.add_argument(
        "source",
        type=Path,
        help="run directory, or a CSV file with the columns dataset, sampler, "
        "classifier, repeat, fold, metric, value and an optional note",
    )
    report.add_argument(
        "--metric", default="auc", help="metric to compare (default: auc)"
    )
    report.add_argument(
        "--format",
        default="terminal",
        choices=["terminal", "markdown", "latex", "html", "csv"],
        help="output format; latex needs the booktabs package (default: terminal)",
    )
    report.add_argument(
        "--control",
        metavar="SAMPLER",
        default=None,
        help="baseline sampler: marks cells that differ from it significantly and "
        "runs the tests within each dataset against it (default: none)",
    )
    report.add_argument(
        "--alpha",
        type=float,
        default=0.05,
        help="family-wise significance level of the tests (default: 0.05)",
    )
    report.add_argument(
        "--rope",
        type=float,
        default=0.01,
        help="half-width of the region of practical equivalence of the Bayesian "
        "t-test, in metric units (default: 0.01)",
    )
    report.add_argument(
        "--lower-is-better",
        action="store_true",
        help="rank lower scores first; by default the metric plugin's direction, "
        "or higher is better for a metric no plugin defines",
    )
    report.add_argument(
        "--cd-diagram",
        type=Path,
        metavar="FILE",
        default=None,
        help="also draw the critical-difference diagram of the Nemenyi test; "
        "the suffix .png, .svg or .pdf chooses the format (needs matplotlib)",
    )
    return parser


def _expand(
    requested: Sequence[str], valid: dict, suites: dict[str, list[str]], kind: str
) -> list[str]:
    names: list[str] = []
    for name in requested:
        if name == "all":
            names.extend(valid)
        elif name in suites:
            names.extend(suites[name])
        elif name in valid:
            names.append(name)
        else:
            options = sorted(valid) + [f"{s} (suite)" for s in sorted(suites)]
            raise ConfigurationError(
                f"unknown {kind} {name!r}. Valid {kind}s: {', '.join(options)}."
            )
    return list(dict.fromkeys(names))


def _choices(requested: Sequence[str], valid: dict, kind: str) -> list[ComponentChoice]:
    choices: list[ComponentChoice] = []
    for text in requested:
        choice = parse_choice(text)
        if choice.name == "all" and not choice.params:
            choices.extend(ComponentChoice(name) for name in valid)
            continue
        if choice.name not in valid:
            raise ConfigurationError(
                f"unknown {kind} {choice.name!r}. Valid {kind}s: "
                f"{', '.join(sorted(valid))}."
            )
        choices.append(choice)
    return list(dict.fromkeys(choices))


def make_config(args: argparse.Namespace, registry: Registry) -> RunConfig:
    """Resolve command-line arguments into a validated run configuration."""
    quick = QUICK if args.quick else {}
    datasets = args.datasets or list(quick.get("datasets", DEFAULT_DATASETS))
    return RunConfig(
        datasets=tuple(
            _expand(datasets, registry.datasets, registry.suites(), "dataset")
        ),
        samplers=tuple(_choices(args.samplers, registry.samplers, "sampler")),
        classifiers=tuple(
            _choices(
                args.classifiers or DEFAULT_CLASSIFIERS,
                registry.classifiers,
                "classifier",
            )
        ),
        folds=args.folds or quick.get("folds", 5),
        # The LEO-CVAE paper (arXiv:2509.25334) reports one 5-fold split, and
        # the default protocol repeats it.
        repeats=args.repeats
        or quick.get("repeats", 1 if args.protocol == "paper" else 2),
        seed=args.seed,
        n_features=args.n_features,
        protocol=args.protocol,
        data_dir=args.data_dir or default_data_dir(),
    )


def _print_list(registry: Registry, kind: str, data_dir: Path) -> None:
    from tabulate import tabulate

    rows = []
    if kind == "datasets":
        for spec in registry.datasets.values():
            status = "none needed"
            if spec.missing_files is not None:
                missing = spec.missing_files(data_dir)
                status = f"missing {', '.join(missing)}" if missing else "found"
            shape = "x".join(map(str, spec.shape)) if spec.shape else "-"
            counts = spec.class_counts or {}
            classes = ", ".join(f"{name} {n}" for name, n in counts.items()) or "-"
            rows.append([spec.name, shape, classes, status, spec.description])
        headers = ["name", "shape", "classes", "files", "description"]
    else:
        for spec in getattr(registry, kind).values():
            rows.append([spec.name, spec.description])
        headers = ["name", "description"]
    print(tabulate(rows, headers=headers, tablefmt="simple"))


def _print_plugins(registry: Registry) -> None:
    from tabulate import tabulate

    def contributions(info) -> str:
        parts = []
        for kind, names in info.contributes.items():
            shown = ", ".join(names[:5])
            more = f" (+{len(names) - 5} more)" if len(names) > 5 else ""
            parts.append(f"{len(names)} {kind}: {shown}{more}")
        return "; ".join(parts) or "-"

    rows = [
        [info.name, info.package, info.version, contributions(info)]
        for info in registry.plugins
    ]
    rows += [
        [info.name, info.package, info.version, f"disabled by {DISABLE_ENV}"]
        for info in registry.disabled
    ]
    print(tabulate(rows, headers=["plugin", "package", "version", "contributes"]))
    for failure in registry.failures:
        package = f" ({failure.package})" if failure.package else ""
        print(f"FAILED {failure.name}{package}: {failure.reason}")


def _execution_options(args: argparse.Namespace) -> ExecutionOptions:
    """Resolve the run options that decide where tasks execute."""
    usable = usable_cpu_count()
    n_jobs = args.n_jobs
    if n_jobs == "auto":
        n_jobs = max(1, usable // args.threads_per_task)
    if args.backend != "dask" and n_jobs * args.threads_per_task > usable:
        logger.warning(
            "--n-jobs %d x --threads-per-task %d asks for more CPUs than the %d this "
            "process may use; tasks will compete for them. Use --n-jobs %d or fewer.",
            n_jobs,
            args.threads_per_task,
            usable,
            max(1, usable // args.threads_per_task),
        )
    return ExecutionOptions(
        n_jobs=n_jobs,
        threads_per_task=args.threads_per_task,
        backend=args.backend,
        devices=None if args.devices is None else parse_device_option(args.devices),
        gpu_jobs_per_device=args.gpu_jobs_per_device,
        timeout=args.timeout,
        scheduler=args.scheduler,
    )


def _run(args: argparse.Namespace, registry: Registry) -> int:
    from benchmark.report import (
        build_leaderboards,
        protocol_notice,
        read_failures,
        read_scores,
        render_report,
    )
    from benchmark.runner import run_benchmark

    run_dir = args.output or Path("runs") / time.strftime("%Y%m%d-%H%M%S")
    config = make_config(args, registry)
    if args.plots:
        config = dataclasses.replace(config, plots_dir=Path(run_dir) / "plots")
    metric = registry.metric(args.metric)
    execution = _execution_options(args)
    print(
        f"run directory: {run_dir}\n"
        f"datasets: {' '.join(config.datasets)}\n"
        f"samplers: {' '.join(c.label for c in config.samplers)}\n"
        f"classifiers: {' '.join(c.label for c in config.classifiers)}\n"
        f"protocol: {config.protocol}, {config.folds} folds x {config.repeats} "
        f"repeats, seed {config.seed}",
        file=sys.stderr,
    )
    summary = run_benchmark(
        config,
        registry,
        run_dir,
        execution=execution,
        retry_failed=args.retry_failed,
        show_progress=not args.no_progress,
    )

    scores = read_scores(run_dir)
    if args.metric in set(scores["metric"]):
        boards = build_leaderboards(
            scores,
            args.metric,
            greater_is_better=metric.greater_is_better,
            failures=read_failures(run_dir),
        )
        print(render_report(boards, "terminal", detail="summary", source=run_dir))
    else:
        print(f"no {args.metric} scores to show; see {run_dir / 'scores.csv'}")
    notice = protocol_notice(run_dir)
    if notice:
        print(notice)
    _print_summary(summary)
    # Exit 1 when tasks ran and none succeeded, so scripts notice a run that
    # produced nothing; partial failures are part of a normal run.
    if summary.finished and len(summary.failed) == summary.finished:
        return 1
    return 0


def _print_summary(summary) -> None:
    retried = (
        f" ({summary.retried} run again after their worker died)"
        if summary.retried
        else ""
    )
    skipped = f"{summary.skipped} skipped as already done"
    if summary.skipped_failed:
        skipped = (
            f"{summary.skipped} skipped as already done ({summary.skipped_failed} of "
            "them failed earlier; --retry-failed runs those again)"
        )
    print(
        f"\n{summary.finished} task(s) run{retried}, {skipped}, "
        f"{len(summary.failed)} failed, in {summary.seconds:.0f} s. "
        f"Results: {summary.run_dir}",
    )
    if summary.failed:
        print(f"failures ({summary.run_dir / 'failures.log'} has the tracebacks):")
        by_reason: dict[tuple[str, str, str], list[str]] = {}
        for result in summary.failed:
            key = (result.dataset, result.sampler, result.error.splitlines()[0][:160])
            by_reason.setdefault(key, []).append(f"r{result.repeat}f{result.fold}")
        for (dataset, sampler, error), folds in sorted(by_reason.items()):
            print(
                f"  {dataset} / {sampler} on {len(folds)} fold(s) ({', '.join(folds)}):"
            )
            print(f"    {error}")
    if summary.noted:
        print("notes (tasks scored as usual, with a caveat):")
        for result in summary.noted[:MAX_NOTES_SHOWN]:
            print(
                f"  {result.dataset} r{result.repeat}f{result.fold}: "
                + "; ".join(result.notes)
            )
        hidden = len(summary.noted) - MAX_NOTES_SHOWN
        if hidden > 0:
            print(
                f"  ... and {hidden} more, in the notes column of the tasks table "
                "of results.sqlite"
            )


def _report(args: argparse.Namespace, registry: Registry) -> int:
    from benchmark.report import (
        build_leaderboards,
        protocol_notice,
        read_failures,
        read_scores,
        render_report,
        write_cd_diagram,
    )

    scores = read_scores(args.source)
    spec = registry.metrics.get(args.metric)
    greater = spec.greater_is_better if spec is not None else True
    boards = build_leaderboards(
        scores,
        args.metric,
        greater_is_better=greater and not args.lower_is_better,
        control=args.control,
        alpha=args.alpha,
        rope=args.rope,
        failures=read_failures(args.source),
    )
    # The diagram comes first, so that a diagram that cannot be drawn fails the
    # command before anything is printed.
    if args.cd_diagram is not None:
        if not Path(args.cd_diagram).parent.is_dir():
            raise ConfigurationError(
                f"cannot write {args.cd_diagram}: folder "
                f"{Path(args.cd_diagram).parent} does not exist. Create it or "
                "choose another path."
            )
        path = write_cd_diagram(boards, args.cd_diagram)
        print(f"critical-difference diagram written to {path}", file=sys.stderr)
    notice = protocol_notice(args.source)
    if notice and args.format != "csv":
        comment = {"latex": "% ", "html": "<!-- "}.get(args.format, "")
        closing = " -->" if args.format == "html" else ""
        print(f"{comment}{notice}{closing}\n")
    print(render_report(boards, args.format, source=args.source), end="")
    return 0


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is at the time of each record."""

    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))

    @property
    def stream(self):  # type: ignore[override]
        return sys.stderr

    @stream.setter
    def stream(self, value: object) -> None:
        pass


def _configure_logging(verbose: bool) -> None:
    root = logging.getLogger()
    # main() may run many times in one process (tests, embedding programs):
    # keep a single handler.
    if not any(isinstance(h, _StderrHandler) for h in root.handlers):
        root.addHandler(_StderrHandler())
    root.setLevel(logging.INFO if verbose else logging.WARNING)
    logging.captureWarnings(True)
    warnings.simplefilter("default", BenchWarning)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``bench`` console script."""
    args = build_parser().parse_args(argv)
    _configure_logging(args.verbose)
    try:
        registry = load_registry()
        if args.command == "list":
            _print_list(registry, args.kind, args.data_dir or default_data_dir())
            return 0
        if args.command == "plugins":
            _print_plugins(registry)
            return 0
        if args.command == "run":
            return _run(args, registry)
        return _report(args, registry)
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(
            "interrupted; finished tasks are saved in the run directory and a "
            "rerun with the same --output resumes",
            file=sys.stderr,
        )
        return 130


if __name__ == "__main__":
    sys.exit(main())
