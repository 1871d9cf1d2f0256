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

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import pluggy

from benchmark.components import Dataset, DatasetSpec, SamplerSpec
from benchmark.plugins import DISABLE_ENV, ENTRY_POINT_GROUP, Registry, load_registry
from benchmark.testing._common import (
    REQUIRED_PROVENANCE,
    CheckFailure,
    ConformanceError,
    DataFilesMissing,
    _describe,
    _NotApplicable,
    _raise_failures,
)
from benchmark.testing._datasets import (
    check_dataset,
    check_dataset_spec,
)
from benchmark.testing._samplers import (
    _CHECKS,
    _CHECKS_BY_NAME,
    _SAMPLER_OPTIONS,
    SAMPLER_CHECKS,
    _run_check,
    _sampler_under_test,
    _skip_reasons,
    check_sampler,
)

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
