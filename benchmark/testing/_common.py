"""Shared errors, constants and helpers of the conformance kit."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from benchmark.errors import DatasetError, PluginError

# Provenance keys every dataset must fill with a non-empty string. run.json
# copies the provenance of each dataset a run used.
REQUIRED_PROVENANCE = ("source", "citation", "licence", "label_definition")

# Names the command line reserves: `--samplers all` selects every sampler.
RESERVED_NAMES = frozenset({"all"})

# The generated data: every class is a unit Gaussian cloud in N_FEATURES
# dimensions, and class k > 0 is shifted by CLASS_SHIFT along feature k - 1.
# The clouds overlap, so that neighbour-based samplers (ADASYN, SVM-SMOTE,
# KMeans-SMOTE) find both classes near the minority rows.
N_FEATURES = 6
CLASS_SHIFT = 2.0
MINORITY_ROWS = 20
DATA_SEED = 20240611
# Per-feature offset and scale for samplers that declare needs_scaled_input=False:
# expression-like values around 6 next to counts in the thousands and fractions.
RAW_OFFSET = np.array([6.0, 6.0, 1000.0, 0.5, 50.0, 0.0])
RAW_SCALE = np.array([1.0, 2.0, 400.0, 0.05, 10.0, 1e-3])


class ConformanceError(PluginError, AssertionError):
    """A plugin component breaks a rule the harness relies on.

    ``failures`` lists each failed check. It subclasses AssertionError so that
    pytest reports it as a test failure, not as an error in the test code.
    """

    def __init__(self, message: str, failures: Iterable[CheckFailure] = ()):
        super().__init__(message)
        self.failures = list(failures)


class DataFilesMissing(DatasetError):
    """A dataset's ``missing_files`` lists files that are not in the data directory."""

    def __init__(self, dataset: str, files: list[str], data_dir: Path):
        self.dataset = dataset
        self.files = files
        self.data_dir = data_dir
        super().__init__(
            f"dataset {dataset!r}: its missing_files reports {len(files)} required "
            f"file(s) absent from data directory {data_dir}: {', '.join(files)}"
        )


@dataclass(frozen=True)
class CheckFailure:
    """One failed check: what is wrong and how to fix it."""

    check: str
    problem: str
    fix: str

    def __str__(self) -> str:
        return f"{self.check}: {self.problem} Fix: {self.fix}"


class _CheckFailed(Exception):
    def __init__(self, problem: str, fix: str, cause: BaseException | None = None):
        super().__init__(problem)
        self.problem = problem
        self.fix = fix
        self.cause = cause


class _NotApplicable(Exception):
    """The check does not apply to this sampler; the message gives the reason."""


def _describe(kind: str, name: str, plugin: str | None) -> str:
    if plugin:
        return f"{kind} {name!r} of plugin {plugin!r}"
    return f"{kind} {name!r}"


def _conformance_error(
    subject: str, failures: list[CheckFailure], total: int
) -> ConformanceError:
    lines = "\n".join(f"  {failure}" for failure in failures)
    return ConformanceError(
        f"{subject} failed {len(failures)} of {total} conformance check(s):\n{lines}",
        failures,
    )


def _raise_failures(
    subject: str, failures: list[tuple[CheckFailure, BaseException | None]], total: int
) -> None:
    """Raise one ConformanceError for all failures, chained to the first cause."""
    if not failures:
        return
    cause = next((cause for _, cause in failures if cause is not None), None)
    error = _conformance_error(subject, [failure for failure, _ in failures], total)
    raise error from cause


def _check_component_name(name: Any, kind: str) -> list[str]:
    """Return what is wrong with a component name, as harness users type it."""
    if not isinstance(name, str) or not name:
        return [f"name {name!r} is not a non-empty string"]
    problems = []
    if name in RESERVED_NAMES:
        problems.append(f"name {name!r} is reserved by the command line")
    if any(character.isspace() or character in ":,=" for character in name):
        problems.append(
            f"name {name!r} contains whitespace or one of ':,=', so the command "
            f"line could not be parsed: `--{kind}s NAME:key=value` splits at ':' "
            "and ','"
        )
    return problems
