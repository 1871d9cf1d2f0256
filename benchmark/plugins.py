"""Discover plugins and collect what they contribute.

Built-in plugins are module names in :data:`BUILTIN_PLUGINS`; third-party
plugins are entry points in the group :data:`ENTRY_POINT_GROUP`. Both are
registered the same way, by :func:`load_registry`, which is never called at
import time. A plugin that fails to import or to register is recorded with its
name and the reason, and the others still load.
"""

from __future__ import annotations

import importlib
import logging
import os
import traceback
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from types import ModuleType
from typing import Any

import pluggy

from benchmark import hookspecs
from benchmark.components import ClassifierSpec, DatasetSpec, MetricSpec, SamplerSpec
from benchmark.errors import ConfigurationError, PluginError

__all__ = [
    "BUILTIN_PLUGINS",
    "ENTRY_POINT_GROUP",
    "DISABLE_ENV",
    "PluginFailure",
    "PluginHookError",
    "Registry",
    "load_registry",
]

logger = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "oversampling_bench"

# Comma-separated plugin names that are not loaded, for example to switch off a
# third-party plugin that breaks start-up.
DISABLE_ENV = "BENCH_DISABLE_PLUGINS"

BUILTIN_PLUGINS: tuple[str, ...] = (
    "plugins.imblearn_samplers",
    "plugins.classifiers",
    "plugins.metrics",
    "plugins.embedded_datasets",
    "plugins.tcga",
    "plugins.adni",
)


class PluginHookError(PluginError, pluggy.PluginValidationError):
    """A plugin's hook functions do not match :mod:`benchmark.hookspecs`.

    It is a pluggy.PluginValidationError for callers that catch pluggy's error,
    and a PluginError, so ``bench`` prints the message without a traceback.
    """


def _hook_error(
    name: str, package: str, error: pluggy.PluginValidationError
) -> PluginHookError:
    return PluginHookError(
        error.plugin,
        f"{error}\nPlugin {name!r} ({package}) does not match the hook "
        "specifications in benchmark.hookspecs. Fix the hook's name or arguments "
        f"(docs/plugins.md), or disable the plugin with {DISABLE_ENV}={name}.",
    )


@dataclass(frozen=True)
class PluginFailure:
    """A plugin that could not be loaded or registered."""

    name: str
    reason: str
    traceback: str
    package: str = ""


@dataclass
class PluginInfo:
    """A loaded plugin, its distribution and what it contributes."""

    name: str
    module: str
    package: str
    version: str
    contributes: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class Registry:
    """All components contributed by the loaded plugins, by name."""

    samplers: dict[str, SamplerSpec]
    datasets: dict[str, DatasetSpec]
    classifiers: dict[str, ClassifierSpec]
    metrics: dict[str, MetricSpec]
    plugins: list[PluginInfo]
    failures: list[PluginFailure]
    manager: pluggy.PluginManager
    disabled: list[PluginInfo] = field(default_factory=list)

    def sampler(self, name: str) -> SamplerSpec:
        return _lookup(self.samplers, name, "sampler")

    def dataset(self, name: str) -> DatasetSpec:
        return _lookup(self.datasets, name, "dataset")

    def classifier(self, name: str) -> ClassifierSpec:
        return _lookup(self.classifiers, name, "classifier")

    def metric(self, name: str) -> MetricSpec:
        return _lookup(self.metrics, name, "metric")

    def owner(self, kind: str, name: str) -> str:
        """Return the name of the plugin that registered component ``name``.

        ``kind`` is ``"samplers"``, ``"datasets"``, ``"classifiers"`` or
        ``"metrics"``.
        """
        for info in self.plugins:
            if name in info.contributes.get(kind, ()):
                return info.name
        return "unknown plugin"

    def suites(self) -> dict[str, list[str]]:
        """Map each dataset suite name to its dataset names."""
        suites: dict[str, list[str]] = {}
        for spec in self.datasets.values():
            for suite in spec.suites:
                suites.setdefault(suite, []).append(spec.name)
        return suites


def _lookup(components: dict[str, Any], name: str, kind: str) -> Any:
    try:
        return components[name]
    except KeyError:
        valid = ", ".join(sorted(components)) or "(none registered)"
        raise ConfigurationError(
            f"unknown {kind} {name!r}. Valid {kind}s: {valid}. "
            f"`bench list {kind}s` describes each."
        ) from None


def _split_package(package: str) -> tuple[str, str]:
    """Split ``"name version"`` into its two parts."""
    name, _, version = package.rpartition(" ")
    return (name, version) if name else (package, "-")


def _entry_point_plugins() -> list[tuple[str, str, Any]]:
    found = []
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        dist = ep.dist
        package = f"{dist.name} {dist.version}" if dist is not None else "unknown"
        found.append((ep.name, package, ep))
    return found


def _import_plugin(name: str, target: Any) -> ModuleType:
    if isinstance(target, str):
        return importlib.import_module(target)
    return target.load()


def load_registry(
    builtins: Iterable[str] = BUILTIN_PLUGINS,
    *,
    extra: Iterable[object] = (),
    use_entry_points: bool = True,
) -> Registry:
    """Build a plugin manager, register every plugin and collect components.

    Parameters
    ----------
    builtins : iterable of str
        Module names registered first, in order.
    extra : iterable of objects
        Plugin objects or modules registered after the built-ins, as tests and
        embedding applications do.
    use_entry_points : bool
        Whether to load plugins from the entry-point group.

    Raises
    ------
    PluginHookError
        When a plugin implements a ``bench_`` hook that does not exist or
        has arguments the specification lacks; this fails start-up on purpose.
        The message names the plugin, its package and how to disable it.
    """
    manager = pluggy.PluginManager(hookspecs.PROJECT)
    manager.add_hookspecs(hookspecs)
    disabled = {
        n.strip() for n in os.environ.get(DISABLE_ENV, "").split(",") if n.strip()
    }

    from benchmark import __version__

    candidates: list[tuple[str, str, Any]] = [
        (module, f"oversampling-bench {__version__}", module) for module in builtins
    ]
    if use_entry_points:
        candidates.extend(_entry_point_plugins())

    infos: list[PluginInfo] = []
    failures: list[PluginFailure] = []
    skipped: list[PluginInfo] = []
    for name, package, target in candidates:
        if name in disabled:
            logger.info("plugin %s disabled by %s", name, DISABLE_ENV)
            skipped.append(PluginInfo(name, "-", *_split_package(package)))
            continue
        try:
            plugin = _import_plugin(name, target)
        except Exception as exc:  # noqa: BLE001 - any import error is reported
            failures.append(
                PluginFailure(
                    name, f"import failed: {exc!r}", traceback.format_exc(), package
                )
            )
            logger.warning("plugin %s failed to load: %r", name, exc)
            continue
        try:
            manager.register(plugin, name=name)
        except pluggy.PluginValidationError as exc:
            raise _hook_error(name, package, exc) from exc
        module = getattr(plugin, "__name__", type(plugin).__name__)
        infos.append(PluginInfo(name, module, *_split_package(package)))

    for plugin in extra:
        name = getattr(plugin, "__name__", None) or type(plugin).__name__
        try:
            manager.register(plugin, name=name)
        except pluggy.PluginValidationError as exc:
            raise _hook_error(name, "registered in process", exc) from exc
        infos.append(PluginInfo(name, name, "(registered in process)", "-"))

    # Fails on any bench_* function that matches no hook specification, or
    # that pluggy would silently ignore because it lacks @hookimpl.
    try:
        manager.check_pending()
    except pluggy.PluginValidationError as exc:
        name = manager.get_name(exc.plugin) or repr(exc.plugin)
        info = next((info for info in infos if info.name == name), None)
        package = f"{info.package} {info.version}" if info else "unknown package"
        raise _hook_error(name, package, exc) from exc
    for plugin in manager.get_plugins():
        _check_undecorated(manager, plugin)

    by_name = {info.name: info for info in infos}
    collected = {}
    for kind, hook in (
        ("samplers", manager.hook.bench_register_samplers),
        ("datasets", manager.hook.bench_register_datasets),
        ("classifiers", manager.hook.bench_register_classifiers),
        ("metrics", manager.hook.bench_register_metrics),
    ):
        collected[kind] = _collect(kind, hook, manager, by_name, failures)

    return Registry(
        samplers=collected["samplers"],
        datasets=collected["datasets"],
        classifiers=collected["classifiers"],
        metrics=collected["metrics"],
        plugins=infos,
        disabled=skipped,
        failures=failures,
        manager=manager,
    )


def _check_undecorated(manager: pluggy.PluginManager, plugin: object) -> None:
    for attribute in dir(plugin):
        if not attribute.startswith("bench_"):
            continue
        function = getattr(plugin, attribute, None)
        if not callable(function):
            continue
        if hasattr(function, f"{hookspecs.PROJECT}_impl"):
            continue
        known = hasattr(manager.hook, attribute)
        hint = (
            "decorate it with @benchmark.hookimpl"
            if known
            else "rename it to one of the hooks in benchmark.hookspecs, or drop "
            "the bench_ prefix"
        )
        name = manager.get_name(plugin)
        raise PluginHookError(
            plugin,
            f"plugin {name!r} defines {attribute}() without @hookimpl, so it "
            f"would never be called: {hint}. Or disable the plugin with "
            f"{DISABLE_ENV}={name}.",
        )


def _collect(
    kind: str,
    hook: Any,
    manager: pluggy.PluginManager,
    infos: dict[str, PluginInfo],
    failures: list[PluginFailure],
) -> dict[str, Any]:
    """Call one registration hook per plugin, so one failure costs one plugin."""
    components: dict[str, Any] = {}
    owners: dict[str, str] = {}
    # get_hookimpls() lists plugins in registration order, so built-ins win a
    # name clash with a third-party plugin.
    for impl in hook.get_hookimpls():
        plugin_name = manager.get_name(impl.plugin) or repr(impl.plugin)
        try:
            specs = list(impl.function() or [])
        except Exception as exc:  # noqa: BLE001 - a plugin's failure is reported
            failures.append(
                PluginFailure(
                    plugin_name,
                    f"{hook.name} raised {exc!r}",
                    traceback.format_exc(),
                )
            )
            logger.warning("plugin %s: %s raised %r", plugin_name, hook.name, exc)
            continue
        for spec in specs:
            if spec.name in components:
                reason = (
                    f"{kind[:-1]} name {spec.name!r} is already registered by plugin "
                    f"{owners[spec.name]!r}, so plugin {plugin_name!r} cannot use it. "
                    f"Rename the {kind[:-1]} in one of them, or disable a plugin with "
                    f"{DISABLE_ENV}={plugin_name}."
                )
                failures.append(PluginFailure(plugin_name, reason, ""))
                logger.warning("plugin %s: %s", plugin_name, reason)
                continue
            components[spec.name] = spec
            owners[spec.name] = plugin_name
            info = infos.get(plugin_name)
            if info is not None:
                info.contributes.setdefault(kind, []).append(spec.name)
    return components
