"""Conformance checks for sampler and dataset plugins.

Plugin authors run these checks from their own test suite::

    import pytest
    from benchmark.testing import dataset_cases, load_plugin, sampler_cases

    import my_plugin

    REGISTRY = load_plugin(my_plugin)

    @pytest.mark.parametrize("case", sampler_cases(REGISTRY))
    def test_sampler_conformance(case):
        case.run()

    @pytest.mark.parametrize("case", dataset_cases(REGISTRY, data_dir="datasets"))
    def test_dataset_conformance(case):
        case.run()

:func:`check_sampler` and :func:`check_dataset_spec` run every check at once
and raise :class:`ConformanceError`, with one line per failed check that names
the plugin, the component, the check and the fix. The sampler checks run on
small seeded data that the kit generates, so they take well under a second for
imbalanced-learn samplers. ``docs/plugins.md`` describes every check.
"""

from __future__ import annotations

import contextlib
import random
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pluggy
from imblearn.utils import check_sampling_strategy

from benchmark.components import Dataset, DatasetSpec, SamplerSpec
from benchmark.errors import DatasetError, PluginError
from benchmark.plugins import DISABLE_ENV, ENTRY_POINT_GROUP, Registry, load_registry

__all__ = [
    "REQUIRED_PROVENANCE",
    "SAMPLER_CHECKS",
    "CheckFailure",
    "ConformanceError",
    "DataFilesMissing",
    "DatasetCase",
    "SamplerCase",
    "check_dataset",
    "check_dataset_spec",
    "check_sampler",
    "dataset_cases",
    "load_entry_point",
    "load_plugin",
    "sampler_cases",
]

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


# --- Data the sampler checks run on --------------------------------------------


def _class_sizes(n_classes: int, smallest: int) -> tuple[int, ...]:
    """Return sizes with a majority three times the smallest class."""
    if n_classes == 2:
        return (3 * smallest, smallest)
    return (3 * smallest, 2 * smallest, smallest)


def _make_data(
    sizes: tuple[int, ...], *, unscaled: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Return shuffled float64 features and int64 class codes, seeded."""
    rng = np.random.default_rng(DATA_SEED + sum(sizes) + len(sizes))
    blocks = []
    for code, size in enumerate(sizes):
        centre = np.zeros(N_FEATURES)
        if code > 0:
            centre[(code - 1) % N_FEATURES] = CLASS_SHIFT
        blocks.append(rng.normal(centre, 1.0, size=(size, N_FEATURES)))
    X = np.vstack(blocks)
    y = np.repeat(np.arange(len(sizes), dtype=np.int64), sizes)
    # Shuffled rows reveal a sampler that reorders its input, for example by class.
    order = rng.permutation(len(y))
    X, y = X[order], y[order]
    if unscaled:
        X = RAW_OFFSET + X * RAW_SCALE
    return X, y


# --- Sampler checks ------------------------------------------------------------

COUNT_FIX = (
    "generate the rows that sampling_strategy requests for each class, as "
    "imblearn.utils.check_sampling_strategy computes them. Without a "
    "sampling_strategy attribute the kit expects 'auto', which balances every "
    "class to the majority. A method that can only approximate the request "
    "declares count_tolerance to the kit."
)
OUTPUT_FIX = (
    "return one finite row per label, with one column per input feature, and "
    "label synthetic rows only with classes that occur in y."
)
ORIGINAL_ROWS_FIX = (
    "return the input rows first, unchanged and in their order, followed by "
    "the synthetic rows, and do not modify X or y in place. "
    "imblearn.over_sampling.base.BaseOverSampler subclasses do this when "
    "_fit_resample stacks the new rows under X."
)
RANDOM_STATE_FIX = (
    "draw every random number from generators seeded with random_state "
    "(sklearn.utils.check_random_state, numpy.random.default_rng, "
    "torch.Generator().manual_seed) and never from global random state."
)
TYPES_FIX = (
    "return the input's types: numpy arrays for numpy input, and a DataFrame "
    "with the same columns and dtypes plus a Series with y's name for pandas "
    "input. BaseOverSampler.fit_resample does this around _fit_resample."
)
SINGLE_CLASS_FIX = (
    "raise ValueError with a message naming the number of classes when y has "
    "fewer than two; imblearn.utils.check_sampling_strategy raises it."
)


@dataclass
class _SamplerUnderTest:
    spec: SamplerSpec
    plugin: str | None
    params: dict[str, Any]
    count_tolerance: float
    deterministic: bool
    random_state: int
    device: str

    @property
    def smallest_class(self) -> int:
        declared = self.declared_min_class_size() or 1
        return max(MINORITY_ROWS, declared)

    def declared_min_class_size(self) -> int | None:
        if self.spec.min_class_size is None:
            return None
        try:
            return int(self.spec.min_class_size(self.params))
        except Exception as exc:
            raise _CheckFailed(
                f"min_class_size({self.params!r}) failed with "
                f"{type(exc).__name__}: {exc}.",
                "make min_class_size accept the merged parameters as a mapping and "
                "return an int.",
                exc,
            ) from exc

    def data(self, n_classes: int = 2) -> tuple[np.ndarray, np.ndarray]:
        return _make_data(_class_sizes(n_classes, self.smallest_class))

    def build(self, random_state: int | None = None, **overrides: Any) -> Any:
        params = {**self.params, **overrides}
        # The harness passes a device to every sampler that declares
        # can_use_gpu, unless the user set one.
        if self.spec.can_use_gpu and "device" not in params:
            params["device"] = self.device
        seed = self.random_state if random_state is None else random_state
        try:
            return self.spec.factory(random_state=seed, **params)
        except Exception as exc:
            raise _CheckFailed(
                f"factory(random_state={seed}, **{params!r}) raised "
                f"{type(exc).__name__}: {exc}.",
                "make the factory accept random_state and every key of the spec's "
                "params as keyword arguments.",
                exc,
            ) from exc

    def resample(
        self, X: Any, y: Any, random_state: int | None = None, **overrides: Any
    ) -> tuple[Any, Any, Any]:
        """Build a sampler and return it with its ``fit_resample`` output."""
        sampler = self.build(random_state, **overrides)
        try:
            X_out, y_out = sampler.fit_resample(X, y)
        except Exception as exc:
            raise _CheckFailed(
                f"fit_resample on {len(y)} rows with class counts "
                f"{_counts(np.asarray(y))} raised {type(exc).__name__}: {exc}",
                "make fit_resample work on this input; the traceback above the "
                "error shows where it failed.",
                exc,
            ) from exc
        return sampler, X_out, y_out


def _counts(y: np.ndarray) -> dict[int, int]:
    codes, counts = np.unique(y, return_counts=True)
    return {int(code): int(count) for code, count in zip(codes, counts, strict=True)}


def _as_arrays(
    X_in: np.ndarray, y_in: np.ndarray, X_out: Any, y_out: Any
) -> tuple[np.ndarray, np.ndarray]:
    """Validate the shape, values and labels of a sampler's output."""
    try:
        X_array = np.asarray(X_out, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise _CheckFailed(
            f"fit_resample returned features that are not numeric: {exc}.", OUTPUT_FIX
        ) from exc
    y_array = np.asarray(y_out)
    if X_array.ndim != 2 or X_array.shape[1] != X_in.shape[1]:
        raise _CheckFailed(
            f"fit_resample returned features of shape {X_array.shape} for input of "
            f"shape {X_in.shape}; the number of columns must not change.",
            OUTPUT_FIX,
        )
    if y_array.ndim != 1 or len(y_array) != len(X_array):
        raise _CheckFailed(
            f"fit_resample returned {len(X_array)} feature rows but labels of shape "
            f"{y_array.shape}.",
            OUTPUT_FIX,
        )
    bad_rows = np.flatnonzero(~np.isfinite(X_array).all(axis=1))
    if bad_rows.size:
        raise _CheckFailed(
            f"fit_resample returned {bad_rows.size} row(s) with NaN or infinite "
            f"values out of {len(X_array)} (first at row {bad_rows[0]}).",
            OUTPUT_FIX,
        )
    unknown = sorted(set(np.unique(y_array).tolist()) - set(np.unique(y_in).tolist()))
    if unknown:
        raise _CheckFailed(
            f"fit_resample returned labels {unknown} that are not in y.", OUTPUT_FIX
        )
    return X_array, y_array


def _requested_rows(sampler: Any, y: np.ndarray) -> dict[int, int]:
    """Return the rows per class code that the sampler's strategy requests."""
    kind = getattr(sampler, "_sampling_type", "over-sampling")
    if kind == "bypass":
        return {code: 0 for code in _counts(y)}
    if kind != "over-sampling":
        raise _CheckFailed(
            f"the sampler declares _sampling_type={kind!r}; the harness benchmarks "
            "over-samplers, which only add rows.",
            "subclass imblearn.over_sampling.base.BaseOverSampler, or drop the "
            "_sampling_type attribute.",
        )
    strategy = getattr(sampler, "sampling_strategy", "auto")
    requested = check_sampling_strategy(strategy, y, "over-sampling")
    return {code: int(requested.get(code, 0)) for code in _counts(y)}


def _compare_counts(
    y_in: np.ndarray, y_out: np.ndarray, requested: Mapping[int, int], tolerance: float
) -> None:
    before = _counts(y_in)
    after = _counts(y_out)
    problems = []
    for code, n_requested in requested.items():
        n_generated = after.get(code, 0) - before[code]
        if abs(n_generated - n_requested) > tolerance * n_requested:
            problems.append(
                f"class {code}: {n_generated} rows generated, {n_requested} requested"
            )
    if problems:
        allowed = f" (count_tolerance {tolerance:g})" if tolerance else ""
        raise _CheckFailed(
            f"{'; '.join(problems)}{allowed}, for input class counts {before}.",
            COUNT_FIX,
        )


def _check_declaration(target: _SamplerUnderTest) -> None:
    spec = target.spec
    problems = _check_component_name(spec.name, "sampler")
    if not isinstance(spec.description, str) or not spec.description.strip():
        problems.append("description is empty; `bench list samplers` shows it")
    if not callable(spec.factory):
        problems.append(f"factory {spec.factory!r} is not callable")
    if not isinstance(spec.params, Mapping) or not all(
        isinstance(key, str) for key in spec.params
    ):
        problems.append(f"params {spec.params!r} is not a mapping with str keys")
    for flag in ("supports_multiclass", "uses_torch", "can_use_gpu"):
        if not isinstance(getattr(spec, flag), bool):
            problems.append(f"{flag}={getattr(spec, flag)!r} is not a bool")
    if not isinstance(spec.needs_scaled_input, bool):
        problems.append(f"needs_scaled_input={spec.needs_scaled_input!r} is not a bool")
    if spec.min_class_size is not None:
        try:
            minimum = spec.min_class_size(target.params)
        except Exception as exc:
            raise _CheckFailed(
                f"min_class_size({target.params!r}) raised {type(exc).__name__}: "
                f"{exc}.",
                "make min_class_size accept the merged parameters as a mapping.",
                exc,
            ) from exc
        if isinstance(minimum, bool) or not isinstance(minimum, (int, np.integer)):
            problems.append(f"min_class_size returned {minimum!r}, not an int")
        elif minimum < 1:
            problems.append(f"min_class_size returned {minimum}, below 1")
    if problems:
        raise _CheckFailed(
            "; ".join(problems) + ".",
            "correct the SamplerSpec fields listed (see docs/plugins.md).",
        )
    sampler = target.build()
    if not callable(getattr(sampler, "fit_resample", None)):
        raise _CheckFailed(
            f"the factory returned {type(sampler).__name__}, which has no "
            "fit_resample method.",
            "return an object with fit_resample(X, y) -> (X_resampled, y_resampled).",
        )


def _check_numpy_io(target: _SamplerUnderTest) -> None:
    X, y = target.data()
    _, X_out, y_out = target.resample(X, y)
    if not isinstance(X_out, np.ndarray) or not isinstance(y_out, np.ndarray):
        raise _CheckFailed(
            f"numpy input gave {type(X_out).__name__} features and "
            f"{type(y_out).__name__} labels, not numpy arrays.",
            TYPES_FIX,
        )
    if X_out.dtype != X.dtype or y_out.dtype != y.dtype:
        raise _CheckFailed(
            f"numpy input of dtypes {X.dtype} and {y.dtype} gave {X_out.dtype} "
            f"and {y_out.dtype}.",
            TYPES_FIX,
        )
    _as_arrays(X, y, X_out, y_out)


def _check_pandas_io(target: _SamplerUnderTest) -> None:
    X, y = target.data()
    columns = [f"GENE{i + 1}" for i in range(X.shape[1])]
    frame = pd.DataFrame(X, columns=columns)
    labels = pd.Series(y, name="label")
    _, X_out, y_out = target.resample(frame, labels)

    if not isinstance(X_out, pd.DataFrame):
        raise _CheckFailed(
            f"DataFrame input gave {type(X_out).__name__} features.", TYPES_FIX
        )
    if list(X_out.columns) != columns:
        raise _CheckFailed(
            f"DataFrame input with columns {columns} gave columns "
            f"{list(X_out.columns)}.",
            TYPES_FIX,
        )
    changed = {
        column: str(dtype)
        for column, dtype in X_out.dtypes.items()
        if dtype != frame.dtypes[column]
    }
    if changed:
        raise _CheckFailed(
            f"float64 DataFrame columns came back with dtypes {changed}.", TYPES_FIX
        )

    if not isinstance(y_out, pd.Series) or y_out.name != "label":
        raise _CheckFailed(
            f"a Series named 'label' gave {type(y_out).__name__} labels named "
            f"{getattr(y_out, 'name', None)!r}.",
            TYPES_FIX,
        )
    if y_out.dtype != labels.dtype:
        raise _CheckFailed(f"int64 labels came back as {y_out.dtype}.", TYPES_FIX)

    _as_arrays(X, y, X_out, y_out)


def _check_original_rows(target: _SamplerUnderTest) -> None:
    X, y = target.data()
    X_before, y_before = X.copy(), y.copy()
    _, X_out, y_out = target.resample(X, y)
    if not np.array_equal(X, X_before) or not np.array_equal(y, y_before):
        raise _CheckFailed("fit_resample modified its input arrays.", ORIGINAL_ROWS_FIX)
    X_out, y_out = _as_arrays(X, y, X_out, y_out)
    n = len(X)
    if len(X_out) < n:
        raise _CheckFailed(
            f"fit_resample returned {len(X_out)} rows for {n} input rows; an "
            "over-sampler keeps every input row.",
            ORIGINAL_ROWS_FIX,
        )
    rows_differ = np.flatnonzero(~(X_out[:n] == X).all(axis=1) | (y_out[:n] != y))
    if rows_differ.size:
        row = int(rows_differ[0])
        raise _CheckFailed(
            f"{rows_differ.size} of the first {n} output rows differ from the input "
            f"(first at row {row}: got label {y_out[row]}, input label {y[row]}).",
            ORIGINAL_ROWS_FIX,
        )


def _check_finite_output(target: _SamplerUnderTest) -> None:
    for n_classes in (2, 3) if target.spec.supports_multiclass else (2,):
        X, y = target.data(n_classes)
        _, X_out, y_out = target.resample(X, y)
        _as_arrays(X, y, X_out, y_out)


def _check_counts(target: _SamplerUnderTest, n_classes: int) -> None:
    X, y = target.data(n_classes)
    sampler, X_out, y_out = target.resample(X, y)
    _, y_out = _as_arrays(X, y, X_out, y_out)
    requested = _requested_rows(sampler, y)
    _compare_counts(y, y_out, requested, target.count_tolerance)


def _check_requested_counts(target: _SamplerUnderTest) -> None:
    sampler = target.build()
    if getattr(sampler, "_sampling_type", "over-sampling") != "over-sampling":
        raise _NotApplicable("the sampler does not over-sample")
    if not hasattr(sampler, "sampling_strategy"):
        raise _NotApplicable("the sampler has no sampling_strategy parameter")
    X, y = target.data()
    counts = _counts(y)
    majority, minority = max(counts.values()), min(counts, key=counts.get)
    # Ask for half of the rows that balancing would add to the minority class.
    strategy = {minority: counts[minority] + (majority - counts[minority]) // 2}
    sampler, X_out, y_out = target.resample(X, y, sampling_strategy=strategy)
    _, y_out = _as_arrays(X, y, X_out, y_out)
    requested = _requested_rows(sampler, y)
    _compare_counts(y, y_out, requested, target.count_tolerance)


@contextlib.contextmanager
def _global_random_state(seed: int, uses_torch: bool) -> Iterator[None]:
    """Seed Python's, numpy's and torch's global generators, then restore them."""
    python_state = random.getstate()
    numpy_state = np.random.get_state()
    torch = sys.modules.get("torch")
    if torch is None and uses_torch:
        import torch
    torch_state = torch.random.get_rng_state() if torch is not None else None
    # torch.manual_seed also seeds every CUDA device.
    cuda_states = (
        torch.cuda.get_rng_state_all()
        if torch is not None and torch.cuda.is_initialized()
        else None
    )
    random.seed(seed)
    np.random.seed(seed)
    if torch is not None:
        torch.manual_seed(seed)
    try:
        yield
    finally:
        random.setstate(python_state)
        np.random.set_state(numpy_state)
        if torch is not None:
            torch.random.set_rng_state(torch_state)
        if cuda_states is not None:
            torch.cuda.set_rng_state_all(cuda_states)


def _same_output(first: tuple[Any, Any], second: tuple[Any, Any]) -> bool:
    X1, y1 = (np.asarray(part) for part in first)
    X2, y2 = (np.asarray(part) for part in second)
    return X1.shape == X2.shape and np.array_equal(X1, X2) and np.array_equal(y1, y2)


def _check_reproducible(target: _SamplerUnderTest) -> None:
    X, y = target.data()
    seed = target.random_state
    # Different global seeds around the two calls reveal draws from global state.
    with _global_random_state(1, target.spec.uses_torch):
        _, *first = target.resample(X, y, seed)
    with _global_random_state(2, target.spec.uses_torch):
        _, *second = target.resample(X, y, seed)
    if not _same_output(first, second):
        raise _CheckFailed(
            f"two calls with random_state={seed} returned different rows.",
            RANDOM_STATE_FIX,
        )
    generated = len(first[1]) > len(y)
    if target.deterministic or not generated:
        return
    _, *other = target.resample(X, y, seed + 1)
    if _same_output(first, other):
        raise _CheckFailed(
            f"random_state={seed} and random_state={seed + 1} returned identical "
            "synthetic rows, so random_state does not reach the random draws.",
            RANDOM_STATE_FIX + " A sampler that is deterministic on purpose passes "
            "deterministic=True to the kit.",
        )


def _check_single_class(target: _SamplerUnderTest) -> None:
    X, _ = target.data()
    y = np.zeros(len(X), dtype=np.int64)
    sampler = target.build()
    try:
        sampler.fit_resample(X, y)
    except ValueError as exc:
        if not str(exc).strip():
            raise _CheckFailed(
                "fit_resample raised ValueError without a message for single-class "
                "input.",
                SINGLE_CLASS_FIX,
            ) from exc
        return
    except Exception as exc:
        raise _CheckFailed(
            f"fit_resample raised {type(exc).__name__}: {exc} for single-class "
            "input, not ValueError.",
            SINGLE_CLASS_FIX,
            exc,
        ) from exc
    raise _CheckFailed(
        f"fit_resample accepted {len(y)} rows of a single class.", SINGLE_CLASS_FIX
    )


def _check_rejects_multiclass(target: _SamplerUnderTest) -> None:
    X, y = target.data(3)
    sampler = target.build()
    try:
        sampler.fit_resample(X, y)
    except ValueError as exc:
        if str(exc).strip():
            return
        raise _CheckFailed(
            "fit_resample raised ValueError without a message for 3 classes.",
            "say in the message that the sampler supports two classes only.",
        ) from exc
    except Exception as exc:
        raise _CheckFailed(
            f"fit_resample raised {type(exc).__name__}: {exc} for 3 classes, not "
            "ValueError.",
            "raise ValueError saying that the sampler supports two classes only.",
            exc,
        ) from exc
    raise _CheckFailed(
        "the spec declares supports_multiclass=False, but fit_resample accepted "
        "3 classes.",
        "declare supports_multiclass=True if the sampler handles several classes, "
        "or raise ValueError for more than two. The harness warns before a run "
        "that such tasks will fail, and relies on the sampler raising.",
    )


def _check_min_class_size(target: _SamplerUnderTest) -> None:
    minimum = target.declared_min_class_size()
    X, y = _make_data((max(3 * MINORITY_ROWS, 3 * minimum), minimum))
    try:
        _, X_out, y_out = target.resample(X, y)
        _as_arrays(X, y, X_out, y_out)
    except _CheckFailed as failure:
        raise _CheckFailed(
            f"with a minority class of {minimum} rows (the declared "
            f"min_class_size): {failure.problem}",
            "raise the value min_class_size returns for these parameters, or make "
            "the sampler handle classes of that size.",
            failure.cause,
        ) from failure


def _check_unscaled_input(target: _SamplerUnderTest) -> None:
    X, y = _make_data(_class_sizes(2, target.smallest_class), unscaled=True)
    _, X_out, y_out = target.resample(X, y)
    try:
        X_out, _ = _as_arrays(X, y, X_out, y_out)
    except _CheckFailed as failure:
        raise _CheckFailed(
            f"on features with scales from 1e-3 to 400, {failure.problem}",
            "handle features on their raw scale, or declare "
            "needs_scaled_input=True so the harness standardises them first.",
        ) from failure
    if not np.array_equal(X_out[: len(X)], X):
        raise _CheckFailed(
            "on unscaled features, the first output rows differ from the input.",
            ORIGINAL_ROWS_FIX,
        )


def _check_device(target: _SamplerUnderTest) -> None:
    X, y = target.data()
    _, X_out, y_out = target.resample(X, y, device=target.device)
    _as_arrays(X, y, X_out, y_out)


@dataclass(frozen=True)
class _SamplerCheck:
    name: str
    run: Callable[[_SamplerUnderTest], None]
    # Returns why the check does not apply to a spec, or None when it does.
    skip_reason: Callable[[SamplerSpec], str | None] = field(default=lambda spec: None)


_CHECKS: tuple[_SamplerCheck, ...] = (
    _SamplerCheck("declaration", _check_declaration),
    _SamplerCheck("numpy-io", _check_numpy_io),
    _SamplerCheck("pandas-io", _check_pandas_io),
    _SamplerCheck("keeps-original-rows", _check_original_rows),
    _SamplerCheck("finite-output", _check_finite_output),
    _SamplerCheck("binary-counts", lambda target: _check_counts(target, 2)),
    _SamplerCheck(
        "multiclass-counts",
        lambda target: _check_counts(target, 3),
        lambda spec: (
            None
            if spec.supports_multiclass
            else "supports_multiclass=False, so the harness runs it on binary data only"
        ),
    ),
    _SamplerCheck(
        "rejects-multiclass",
        _check_rejects_multiclass,
        lambda spec: "supports_multiclass=True" if spec.supports_multiclass else None,
    ),
    _SamplerCheck("requested-counts", _check_requested_counts),
    _SamplerCheck("reproducible", _check_reproducible),
    _SamplerCheck("rejects-single-class", _check_single_class),
    _SamplerCheck(
        "min-class-size",
        _check_min_class_size,
        lambda spec: (
            None
            if spec.min_class_size is not None
            else "the spec declares no min_class_size"
        ),
    ),
    _SamplerCheck(
        "unscaled-input",
        _check_unscaled_input,
        lambda spec: (
            "needs_scaled_input=True, so the harness passes standardised features"
            if spec.needs_scaled_input
            else None
        ),
    ),
    _SamplerCheck(
        "device",
        _check_device,
        lambda spec: None if spec.can_use_gpu else "can_use_gpu=False",
    ),
)

#: Names of the sampler checks, in the order they run.
SAMPLER_CHECKS: tuple[str, ...] = tuple(check.name for check in _CHECKS)
_CHECKS_BY_NAME = {check.name: check for check in _CHECKS}

_SAMPLER_OPTIONS = frozenset(
    {"params", "count_tolerance", "deterministic", "skip", "random_state", "device"}
)


def _as_sampler_spec(
    spec_or_factory: SamplerSpec | Callable[..., Any], capabilities: Mapping[str, Any]
) -> SamplerSpec:
    if isinstance(spec_or_factory, SamplerSpec):
        if capabilities:
            raise TypeError(
                f"capabilities {sorted(capabilities)} apply to a bare factory only; "
                f"sampler {spec_or_factory.name!r} is already a SamplerSpec, so set "
                "them on the spec."
            )
        return spec_or_factory
    if not callable(spec_or_factory):
        raise TypeError(
            f"expected a SamplerSpec or a factory callable, got {spec_or_factory!r}."
        )
    name = getattr(spec_or_factory, "__name__", type(spec_or_factory).__name__)
    description = capabilities.pop("description", f"factory {name}")
    return SamplerSpec(
        name=name, factory=spec_or_factory, description=description, **capabilities
    )


def _skip_reasons(skip: Mapping[str, str] | Iterable[str]) -> dict[str, str]:
    if isinstance(skip, Mapping):
        reasons = dict(skip)
    else:
        reasons = {name: "skipped by the caller" for name in skip}
    unknown = sorted(set(reasons) - set(SAMPLER_CHECKS))
    if unknown:
        raise ValueError(
            f"unknown sampler check(s) {unknown} in skip; valid checks: "
            f"{', '.join(SAMPLER_CHECKS)}."
        )
    return reasons


def _sampler_under_test(
    spec: SamplerSpec,
    *,
    plugin: str | None,
    params: Mapping[str, Any] | None,
    count_tolerance: float,
    deterministic: bool,
    random_state: int,
    device: str,
) -> _SamplerUnderTest:
    if not 0 <= count_tolerance < 1:
        raise ValueError(
            f"count_tolerance must be in [0, 1), got {count_tolerance!r}: it is the "
            "fraction of the requested rows by which a class may differ."
        )
    merged = (
        {**spec.params, **(params or {})} if isinstance(spec.params, Mapping) else {}
    )
    return _SamplerUnderTest(
        spec=spec,
        plugin=plugin,
        params=merged,
        count_tolerance=count_tolerance,
        deterministic=deterministic,
        random_state=random_state,
        device=device,
    )


def _run_check(
    check: _SamplerCheck, target: _SamplerUnderTest
) -> tuple[CheckFailure, BaseException | None] | None:
    """Run one check and return its failure, or None when it passed."""
    try:
        check.run(target)
    except _CheckFailed as failed:
        return CheckFailure(check.name, failed.problem, failed.fix), failed.cause
    except _NotApplicable:
        raise
    except Exception as exc:
        # For example check_sampling_strategy rejecting the sampler's strategy.
        failure = CheckFailure(
            check.name,
            f"the check failed with {type(exc).__name__}: {exc}.",
            "see the chained traceback for the component code involved.",
        )
        return failure, exc
    return None


def check_sampler(
    spec_or_factory: SamplerSpec | Callable[..., Any],
    *,
    params: Mapping[str, Any] | None = None,
    count_tolerance: float = 0.0,
    deterministic: bool = False,
    skip: Mapping[str, str] | Iterable[str] = (),
    plugin: str | None = None,
    random_state: int = 0,
    device: str = "cpu",
    **capabilities: Any,
) -> dict[str, str]:
    """Run every sampler check that applies and return each check's outcome.

    Parameters
    ----------
    spec_or_factory : SamplerSpec or callable
        A registered spec, or a bare factory ``factory(random_state=..., **params)``.
        For a bare factory, ``capabilities`` sets the SamplerSpec fields
        (``supports_multiclass``, ``uses_torch``, ``can_use_gpu``,
        ``needs_scaled_input``, ``min_class_size``, ``params``, ``description``).
    params : mapping, optional
        Overrides of the spec's default parameters, for example fewer epochs.
    count_tolerance : float
        Fraction of the requested rows by which the generated rows of a class may
        differ, for samplers that only approximate the request (ADASYN rounds a
        count per row). 0 requires the exact count.
    deterministic : bool
        Skip the requirement that two random states give different rows.
    skip : mapping or iterable of str
        Check names to skip, optionally mapped to the reason.
    plugin : str, optional
        Plugin name for the error message.
    random_state, device
        Passed to the factory; ``device`` only when the spec declares can_use_gpu.

    Returns
    -------
    dict
        ``{check name: "passed" | "skipped: <reason>"}`` in the order of
        :data:`SAMPLER_CHECKS`.

    Raises
    ------
    ConformanceError
        When a check fails, with one line per failed check.
    """
    spec = _as_sampler_spec(spec_or_factory, dict(capabilities))
    reasons = _skip_reasons(skip)
    target = _sampler_under_test(
        spec,
        plugin=plugin,
        params=params,
        count_tolerance=count_tolerance,
        deterministic=deterministic,
        random_state=random_state,
        device=device,
    )
    outcomes: dict[str, str] = {}
    failures: list[tuple[CheckFailure, BaseException | None]] = []
    for check in _CHECKS:
        reason = reasons.get(check.name) or check.skip_reason(spec)
        if reason:
            outcomes[check.name] = f"skipped: {reason}"
            continue
        try:
            failure = _run_check(check, target)
        except _NotApplicable as exc:
            outcomes[check.name] = f"skipped: {exc}"
            continue
        outcomes[check.name] = "passed" if failure is None else "failed"
        if failure is not None:
            failures.append(failure)
    ran = sum(1 for outcome in outcomes.values() if not outcome.startswith("skipped"))
    _raise_failures(_describe("sampler", spec.name, plugin), failures, ran)
    return outcomes


# --- Dataset checks -------------------------------------------------------------

DATASET_FIX = (
    "build the Dataset with benchmark.Dataset.from_frame, which validates the "
    "features and encodes the labels as class codes."
)
PROVENANCE_FIX = (
    "pass provenance= to Dataset.from_frame with non-empty strings for "
    + ", ".join(REQUIRED_PROVENANCE)
    + " (optional keys such as accession may be added)."
)


def _feature_problems(X: Any) -> list[str]:
    if not isinstance(X, pd.DataFrame):
        return [f"X is a {type(X).__name__}, not a pandas DataFrame"]
    problems = []
    if X.shape[1] == 0:
        problems.append("X has no columns")
    if X.shape[0] == 0:
        problems.append("X has no rows")
    non_numeric = [
        str(column)
        for column, dtype in X.dtypes.items()
        if not pd.api.types.is_numeric_dtype(dtype)
    ]
    if non_numeric:
        problems.append(f"columns {non_numeric[:5]} are not numeric")
    elif not np.isfinite(X.to_numpy(dtype=np.float64, na_value=np.nan)).all():
        problems.append("X contains NaN or infinite values")
    not_text = [column for column in X.columns if not isinstance(column, str)]
    if not_text:
        problems.append(f"column names {not_text[:5]} are not strings")
    duplicated = X.columns[X.columns.duplicated()].tolist()
    if duplicated:
        problems.append(f"column names {duplicated[:5]} occur more than once")
    return problems


def _label_problems(dataset: Dataset) -> list[str]:
    y, names = dataset.y, dataset.class_names
    if not isinstance(y, np.ndarray) or y.ndim != 1:
        return [f"y is a {type(y).__name__} of shape {np.shape(y)}, not a 1-D array"]
    problems = []
    if not np.issubdtype(y.dtype, np.integer):
        problems.append(f"y has dtype {y.dtype}, not integer class codes")
    if isinstance(dataset.X, pd.DataFrame) and len(y) != len(dataset.X):
        problems.append(f"y has {len(y)} labels for {len(dataset.X)} rows")
    if problems:
        return problems
    outside = sorted(set(np.unique(y).tolist()) - set(range(len(names))))
    if outside:
        problems.append(
            f"y contains codes {outside[:5]} outside 0..{len(names) - 1}, the range "
            "class_names defines"
        )
    else:
        counts = np.bincount(y, minlength=len(names))
        empty = [names[code] for code in np.flatnonzero(counts == 0)]
        if empty:
            problems.append(f"classes {empty} have no rows")
    return problems


def _class_name_problems(dataset: Dataset) -> list[str]:
    names = dataset.class_names
    if not isinstance(names, tuple) or not all(
        isinstance(name, str) and name for name in names
    ):
        return [f"class_names {names!r} is not a tuple of non-empty strings"]
    problems = []
    if len(names) < 2:
        problems.append(f"class_names {names!r} has fewer than two classes")
    if len(set(names)) != len(names):
        problems.append(f"class_names {names!r} contains duplicates")
    positive = dataset.positive
    if isinstance(positive, bool) or not isinstance(positive, (int, np.integer)):
        problems.append(f"positive={positive!r} is not an int class code")
    elif not 0 <= positive < len(names):
        problems.append(f"positive={positive} is not a code of class_names")
    return problems


def _provenance_problems(provenance: Any) -> list[str]:
    if not isinstance(provenance, Mapping):
        return [f"provenance is a {type(provenance).__name__}, not a mapping"]
    problems = []
    missing = [
        key
        for key in REQUIRED_PROVENANCE
        if not isinstance(provenance.get(key), str) or not provenance[key].strip()
    ]
    if missing:
        problems.append(f"provenance lacks non-empty {missing}")
    not_text = [key for key, value in provenance.items() if not isinstance(value, str)]
    if not_text:
        problems.append(
            f"provenance values of {not_text} are not strings (run.json stores them)"
        )
    return problems


def _dataset_failures(dataset: Any) -> list[CheckFailure]:
    if not isinstance(dataset, Dataset):
        return [
            CheckFailure(
                "type",
                f"the loader returned {type(dataset).__name__}, not benchmark.Dataset.",
                DATASET_FIX,
            )
        ]
    failures = []
    for check, problems, fix in (
        ("features", _feature_problems(dataset.X), DATASET_FIX),
        ("labels", _label_problems(dataset), DATASET_FIX),
        ("class-names", _class_name_problems(dataset), DATASET_FIX),
        ("provenance", _provenance_problems(dataset.provenance), PROVENANCE_FIX),
    ):
        if problems:
            failures.append(CheckFailure(check, "; ".join(problems) + ".", fix))
    return failures


def check_dataset(dataset: Dataset, *, plugin: str | None = None) -> None:
    """Check a loaded dataset: numeric features, class codes, names, provenance.

    Raises
    ------
    ConformanceError
        With one line per failed check.
    """
    name = getattr(dataset, "name", "?")
    failures = [(failure, None) for failure in _dataset_failures(dataset)]
    _raise_failures(_describe("dataset", name, plugin), failures, 5)


def _spec_problems(spec: DatasetSpec) -> list[str]:
    problems = _check_component_name(spec.name, "dataset")
    if not isinstance(spec.description, str) or not spec.description.strip():
        problems.append("description is empty; `bench list datasets` shows it")
    if not callable(spec.loader):
        problems.append(f"loader {spec.loader!r} is not callable")
    if not isinstance(spec.suites, tuple) or not all(
        isinstance(suite, str) and not _check_component_name(suite, "dataset")
        for suite in spec.suites
    ):
        problems.append(f"suites {spec.suites!r} is not a tuple of valid names")
    if spec.missing_files is not None and not callable(spec.missing_files):
        problems.append(f"missing_files {spec.missing_files!r} is not callable")
    return problems


def check_dataset_spec(
    spec: DatasetSpec, data_dir: str | Path, *, plugin: str | None = None
) -> Dataset:
    """Check a dataset spec, load the dataset from ``data_dir`` and check it.

    Besides :func:`check_dataset`, the spec's fields must be valid, the loaded
    dataset must carry the spec's name, and a declared ``shape`` or
    ``class_counts`` must match the loaded data.

    Returns
    -------
    Dataset
        The loaded dataset.

    Raises
    ------
    DataFilesMissing
        When the spec's ``missing_files`` lists files absent from ``data_dir``.
        Tests usually skip on it, because users download those files.
    ConformanceError
        When a check fails, or the loader raises.
    """
    data_dir = Path(data_dir)
    subject = _describe("dataset", getattr(spec, "name", "?"), plugin)
    problems = _spec_problems(spec)
    if problems:
        failure = CheckFailure(
            "declaration",
            "; ".join(problems) + ".",
            "correct the DatasetSpec fields listed (see docs/plugins.md).",
        )
        _raise_failures(subject, [(failure, None)], 1)

    if spec.missing_files is not None:
        missing = spec.missing_files(data_dir)
        if not isinstance(missing, list) or not all(
            isinstance(path, str) for path in missing
        ):
            failure = CheckFailure(
                "missing-files",
                f"missing_files({data_dir}) returned {missing!r}, not a list of str.",
                "return the names of the required files that are absent, or [].",
            )
            _raise_failures(subject, [(failure, None)], 1)
        if missing:
            raise DataFilesMissing(spec.name, missing, data_dir)

    try:
        dataset = spec.loader(data_dir)
    except Exception as exc:
        failure = CheckFailure(
            "load",
            f"loader({data_dir}) raised {type(exc).__name__}: {exc}",
            "make the loader work on this data directory, or list the files it "
            "needs in missing_files so that a run stops before training.",
        )
        raise _conformance_error(subject, [failure], 1) from exc

    failures = _dataset_failures(dataset)
    if isinstance(dataset, Dataset):
        failures.extend(_declared_failures(spec, dataset))
    _raise_failures(subject, [(failure, None) for failure in failures], 7)
    return dataset


def _declared_failures(spec: DatasetSpec, dataset: Dataset) -> list[CheckFailure]:
    failures = []
    if dataset.name != spec.name:
        failures.append(
            CheckFailure(
                "name",
                f"the loader returned a dataset named {dataset.name!r}.",
                f"pass name={spec.name!r} to Dataset.from_frame.",
            )
        )
    if spec.shape is not None and tuple(spec.shape) != dataset.X.shape:
        failures.append(
            CheckFailure(
                "declared-shape",
                f"the spec declares shape {tuple(spec.shape)}, the loaded X has "
                f"{dataset.X.shape}.",
                "correct DatasetSpec.shape or leave it None.",
            )
        )
    if spec.class_counts is not None:
        declared = {str(key): int(value) for key, value in spec.class_counts.items()}
        if declared != dataset.class_counts:
            failures.append(
                CheckFailure(
                    "declared-counts",
                    f"the spec declares class counts {declared}, the loaded data "
                    f"has {dataset.class_counts}.",
                    "correct DatasetSpec.class_counts, keyed by class name, or "
                    "leave it None.",
                )
            )
    return failures


# --- Loading a plugin on its own ---------------------------------------------------


def load_plugin(plugin: object | str) -> Registry:
    """Register one plugin without any other and return what it contributes.

    ``plugin`` is a module, an object with hook methods, or a module name. The
    plugin passes through the same validation as at ``bench`` start-up.

    Raises
    ------
    ConformanceError
        When a hook does not match benchmark.hookspecs, a hook raises, two
        contributions share a name, or the plugin contributes nothing.
    """
    if isinstance(plugin, str):
        name, builtins, extra = plugin, (plugin,), ()
    else:
        name = getattr(plugin, "__name__", None) or type(plugin).__name__
        builtins, extra = (), (plugin,)
    try:
        registry = load_registry(builtins, extra=extra, use_entry_points=False)
    except pluggy.PluginValidationError as exc:
        raise ConformanceError(
            f"plugin {name!r} does not match the hook specifications: {exc}\n"
            "Fix: name each hook function after a hook in benchmark.hookspecs, "
            "decorate it with @benchmark.hookimpl and take only the arguments "
            "the specification lists (docs/plugins.md)."
        ) from exc
    if registry.failures:
        reasons = "\n".join(
            f"  {failure.name}: {failure.reason}" for failure in registry.failures
        )
        raise ConformanceError(
            f"plugin {name!r} failed to load or register:\n{reasons}\n"
            "Fix: see the reasons above; `bench plugins` reports the same."
        )
    contributed = [
        component
        for info in registry.plugins
        for components in info.contributes.values()
        for component in components
    ]
    if not contributed:
        raise ConformanceError(
            f"plugin {name!r} contributes no sampler, dataset, classifier or metric.\n"
            "Fix: return a non-empty list from a bench_register_* hook, and check "
            f"that {DISABLE_ENV} does not name the plugin."
        )
    return registry


def load_entry_point(name: str) -> Registry:
    """Load the installed plugin registered as entry point ``name`` on its own.

    Raises
    ------
    ConformanceError
        When no installed distribution declares the entry point, the module does
        not import, or :func:`load_plugin` rejects it.
    """
    found = entry_points(group=ENTRY_POINT_GROUP, name=name)
    if not found:
        installed = sorted(ep.name for ep in entry_points(group=ENTRY_POINT_GROUP))
        raise ConformanceError(
            f"no installed package declares entry point {name!r} in group "
            f"{ENTRY_POINT_GROUP!r} (installed: {installed}).\n"
            f'Fix: add `[project.entry-points."{ENTRY_POINT_GROUP}"]` with '
            f'`{name} = "your_package.plugin"` to the plugin\'s pyproject.toml and '
            "install the package again (pip install -e .)."
        )
    entry_point = next(iter(found))
    try:
        module = entry_point.load()
    except Exception as exc:
        raise ConformanceError(
            f"entry point {name!r} ({entry_point.value}) failed to import: {exc!r}\n"
            "Fix: make the module importable with only the package's declared "
            "dependencies installed."
        ) from exc
    return load_plugin(module)


# --- pytest parametrisation ----------------------------------------------------


def _owners(registry: Registry, kind: str) -> dict[str, str]:
    return {
        component: info.name
        for info in registry.plugins
        for component in info.contributes.get(kind, [])
    }


def _select(
    components: Any, kind: str, spec_type: type, names: Iterable[str] | None
) -> list[tuple[Any, str | None]]:
    """Return (spec, plugin name) pairs from a registry, one spec or specs."""
    if isinstance(components, Registry):
        owners = _owners(components, kind)
        specs = getattr(components, kind)
        chosen = list(specs) if names is None else list(names)
        unknown = [name for name in chosen if name not in specs]
        if unknown:
            raise ValueError(
                f"unknown {kind} {unknown}; the registry has {sorted(specs)}."
            )
        return [(specs[name], owners.get(name)) for name in chosen]
    if isinstance(components, spec_type):
        components = [components]
    pairs = [(spec, None) for spec in components]
    if names is not None:
        wanted = set(names)
        pairs = [(spec, plugin) for spec, plugin in pairs if spec.name in wanted]
    return pairs


@dataclass(frozen=True)
class SamplerCase:
    """One sampler check, for ``pytest.mark.parametrize``; call :meth:`run`."""

    spec: SamplerSpec
    check: str
    plugin: str | None = None
    options: Mapping[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return f"{self.spec.name}-{self.check}"

    def run(self) -> None:
        """Run the check; skip the test when it does not apply.

        Raises
        ------
        ConformanceError
            When the check fails.
        """
        import pytest

        options = dict(self.options)
        options.pop("skip", None)
        target = _sampler_under_test(
            self.spec,
            plugin=self.plugin,
            params=options.get("params"),
            count_tolerance=options.get("count_tolerance", 0.0),
            deterministic=options.get("deterministic", False),
            random_state=options.get("random_state", 0),
            device=options.get("device", "cpu"),
        )
        try:
            failure = _run_check(_CHECKS_BY_NAME[self.check], target)
        except _NotApplicable as exc:
            pytest.skip(str(exc))
        if failure is not None:
            _raise_failures(
                _describe("sampler", self.spec.name, self.plugin), [failure], 1
            )


def sampler_cases(
    components: Registry | SamplerSpec | Iterable[SamplerSpec],
    *,
    names: Iterable[str] | None = None,
    options: Mapping[str, Mapping[str, Any]] | None = None,
) -> list[Any]:
    """Return one ``pytest.param`` per sampler and check, with readable ids.

    ``options`` maps a sampler name to keyword arguments of
    :func:`check_sampler` (``params``, ``count_tolerance``, ``deterministic``,
    ``skip``, ``random_state``, ``device``). Checks that do not apply, or that
    ``skip`` names, are marked skipped with the reason.
    """
    import pytest

    options = dict(options or {})
    pairs = _select(components, "samplers", SamplerSpec, names)
    unknown = sorted(set(options) - {spec.name for spec, _ in pairs})
    if unknown:
        raise ValueError(f"options name samplers that are not selected: {unknown}.")
    params = []
    for spec, plugin in pairs:
        settings = dict(options.get(spec.name, {}))
        invalid = sorted(set(settings) - _SAMPLER_OPTIONS)
        if invalid:
            raise ValueError(
                f"invalid options {invalid} for sampler {spec.name!r}; valid: "
                f"{sorted(_SAMPLER_OPTIONS)}."
            )
        reasons = _skip_reasons(settings.get("skip", ()))
        for check in _CHECKS:
            case = SamplerCase(spec, check.name, plugin, settings)
            reason = reasons.get(check.name) or check.skip_reason(spec)
            marks = [pytest.mark.skip(reason=reason)] if reason else []
            params.append(pytest.param(case, id=case.id, marks=marks))
    return params


@dataclass(frozen=True)
class DatasetCase:
    """One dataset to check, for ``pytest.mark.parametrize``; call :meth:`run`."""

    spec: DatasetSpec
    data_dir: Path
    plugin: str | None = None

    @property
    def id(self) -> str:
        return self.spec.name

    def run(self) -> Dataset:
        """Check and return the dataset; skip the test when its files are absent."""
        import pytest

        try:
            return check_dataset_spec(self.spec, self.data_dir, plugin=self.plugin)
        except DataFilesMissing as exc:
            pytest.skip(str(exc))


def dataset_cases(
    components: Registry | DatasetSpec | Iterable[DatasetSpec],
    data_dir: str | Path,
    *,
    names: Iterable[str] | None = None,
) -> list[Any]:
    """Return one ``pytest.param`` per dataset, with the dataset name as id."""
    import pytest

    return [
        pytest.param(DatasetCase(spec, Path(data_dir), plugin), id=spec.name)
        for spec, plugin in _select(components, "datasets", DatasetSpec, names)
    ]
