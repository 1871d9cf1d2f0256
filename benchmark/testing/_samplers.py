"""Conformance checks for sampler plugins."""

from __future__ import annotations

import contextlib
import random
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from imblearn.utils import check_sampling_strategy

from benchmark.components import SamplerSpec
from benchmark.testing._common import (
    CLASS_SHIFT,
    DATA_SEED,
    MINORITY_ROWS,
    N_FEATURES,
    RAW_OFFSET,
    RAW_SCALE,
    CheckFailure,
    _check_component_name,
    _CheckFailed,
    _describe,
    _NotApplicable,
    _raise_failures,
)

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
