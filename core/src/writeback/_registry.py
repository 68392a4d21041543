"""The plugin registry: a small facade over pluggy.

Entry points in group ``writeback`` are loaded one at a time, so that a broken
plugin is reported (``writeback plugins``) rather than fatal; it becomes an
error only when a connector row selects something it would have provided.
Listing plugins calls only the argument-free declaration hooks: no protocol
library is imported until a descriptor's factory runs.
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
import os
from collections.abc import Iterable
from dataclasses import dataclass
from types import ModuleType
from typing import Any, TypeVar

import pluggy

from . import hookspecs
from ._commands import CORE_COMMANDS, CommandSpec, command_problems
from ._descriptors import ApiFormatSpec, AuthMethodSpec, ConnectorTypeSpec
from ._errors import DuplicatePluginError, PluginLoadError, PluginMissingError
from ._load_advice import load_advice
from ._observers import Observer, Observers
from .conformance import conformance_problems

__all__ = ["DISABLE_ENV", "LoadError", "PluginRegistry"]

DISABLE_ENV = "WRITEBACK_DISABLE_PLUGINS"
ENTRY_POINT_GROUP = "writeback"

#: Kind key -> (hook name, human name of the kind, the row field that selects it).
KINDS = {
    "connector_types": ("writeback_connector_types", "connector type", "type"),
    "api_formats": ("writeback_api_formats", "API format", "api_type"),
    "auth_methods": ("writeback_auth_methods", "auth method", "auth.method"),
}

Spec = TypeVar("Spec", ConnectorTypeSpec, ApiFormatSpec, AuthMethodSpec)


@dataclass(frozen=True)
class LoadError:
    """A plugin that could not be loaded, or a name two plugins claim."""

    name: str
    distribution: str
    version: str
    error: str

    def as_dict(self) -> dict[str, str]:
        return dataclasses.asdict(self)


class PluginRegistry:
    """Installed plugins by kind and name, with what failed to load."""

    def __init__(self) -> None:
        self._pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
        self._pm.add_hookspecs(hookspecs)
        self.connector_types: dict[str, ConnectorTypeSpec] = {}
        self.api_formats: dict[str, ApiFormatSpec] = {}
        self.auth_methods: dict[str, AuthMethodSpec] = {}
        self._aliases: dict[str, str] = {}
        self.load_errors: list[LoadError] = []
        #: kind -> name -> the plugin (entry point) that failed or was refused for it.
        self._broken: dict[str, dict[str, str]] = {kind: {} for kind in KINDS}
        #: distribution -> why it registered nothing (import, declaration, conformance).
        self._failed: dict[str, str] = {}
        self.disabled: set[str] = set()
        #: Entry points not loaded because of ``disabled``: name -> distribution.
        self._skipped: dict[str, str] = {}
        #: Commands plugins add to the CLI, by name (``writeback_commands``).
        self.commands: dict[str, CommandSpec] = {}
        #: Registered plugin name -> its distribution (observers are named by it).
        self._plugin_dists: dict[str, str] = {}

    # -- loading -------------------------------------------------------------

    @classmethod
    def load(
        cls,
        *,
        entry_points: Iterable[importlib.metadata.EntryPoint] | None = None,
        disabled: Iterable[str] | None = None,
    ) -> PluginRegistry:
        """Load the built-in plugins and every entry point in group ``writeback``."""
        registry = cls()
        if disabled is None:
            disabled = [n for n in os.environ.get(DISABLE_ENV, "").replace(" ", "").split(",") if n]
        registry.disabled = set(disabled)
        from . import _builtin

        registry.register(_builtin, name="writeback-builtin", distribution="writeback")
        if entry_points is None:
            entry_points = importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)
        for ep in sorted(entry_points, key=lambda e: e.name):
            registry._load_entry_point(ep)
        return registry

    def _load_entry_point(self, ep: importlib.metadata.EntryPoint) -> None:
        dist = ep.dist.name if ep.dist is not None else "?"
        version = ep.dist.version if ep.dist is not None else "?"
        if ep.name in self.disabled or dist in self.disabled:
            self._skipped[ep.name] = dist
            return
        try:
            module = ep.load()
        except Exception as exc:  # a broken plugin must not stop the others
            self._record_broken(ep.name, dist, version, f"import failed: {exc!r}")
            return
        self.register(module, name=ep.name, distribution=dist, version=version)

    def _record_broken(
        self, name: str, dist: str, version: str, error: str, *, declared: Iterable[Any] = ()
    ) -> None:
        self.load_errors.append(LoadError(name, dist, version, error))
        self._failed.setdefault(dist, error)
        # By convention the entry-point name is the plugin's short name.
        for kind in KINDS:
            self._broken[kind].setdefault(name, f"{dist} ({error})")
        for spec in declared:
            kind = _kind_of(spec)
            if kind is not None and isinstance(getattr(spec, "name", None), str):
                self._broken[kind].setdefault(spec.name, f"{dist} ({error})")

    def register(
        self,
        plugin: ModuleType | object,
        *,
        name: str,
        distribution: str = "",
        version: str = "",
    ) -> None:
        """Register one plugin object and collect its descriptors.

        Third parties may call this directly (tests, embedding); entry points
        are the ordinary way.
        """
        if not version and distribution:
            try:
                version = importlib.metadata.version(distribution)
            except importlib.metadata.PackageNotFoundError:
                version = ""
        try:
            self._pm.register(plugin, name=name)
            self._pm.check_pending()
        except Exception as exc:
            if self._pm.is_registered(plugin):
                self._pm.unregister(plugin)
            self._record_broken(name, distribution or name, version, f"not a valid plugin: {exc}")
            return
        collected: dict[str, list[Any]] = {}
        others = [p for p in self._pm.get_plugins() if p is not plugin]
        try:
            for kind, (hook_name, _, _) in KINDS.items():
                caller = self._pm.subset_hook_caller(hook_name, remove_plugins=others)
                collected[kind] = [spec for result in caller() for spec in (result or ())]
        except Exception as exc:
            self._pm.unregister(plugin)
            self._record_broken(name, distribution or name, version, f"declaration failed: {exc!r}")
            return
        problems = _nonconformance(distribution or name, collected)
        if not self._pm.get_hookcallers(plugin):
            problems.append(
                f"{distribution or name} was not loaded: its module {name!r} implements no "
                "writeback hook; mark the hook functions with @writeback.hookimpl."
            )
        if problems:
            self._pm.unregister(plugin)
            declared = [spec for specs in collected.values() for spec in specs]
            for problem in problems:
                self._record_broken(name, distribution or name, version, problem, declared=declared)
            return
        for kind, specs in collected.items():
            for spec in specs:
                stamped = dataclasses.replace(spec, distribution=distribution, version=version)
                self._add(kind, stamped)
        self._add_commands(plugin, name, distribution or name, version)

    def _add(self, kind: str, spec: Any) -> None:
        table: dict[str, Any] = getattr(self, kind)
        if kind == "api_formats":
            spec = self._settle_aliases(spec)
        names = [spec.name, *getattr(spec, "aliases", ())]
        for name in names:
            owner = (
                table.get(self._aliases.get(name, name))
                if kind == "api_formats"
                else table.get(name)
            )
            if owner is not None:
                message = (
                    f"{KINDS[kind][1]} {name!r} is provided by both {owner.distribution} "
                    f"and {spec.distribution}; uninstall one of them."
                )
                self.load_errors.append(LoadError(name, spec.distribution, spec.version, message))
                self._broken[kind][name] = message
                return
        table[spec.name] = spec
        if kind == "api_formats":
            for alias in spec.aliases:
                self._aliases[alias] = spec.name

    def _settle_aliases(self, spec: ApiFormatSpec) -> ApiFormatSpec:
        """A format's name beats another format's alias, whichever came first.

        The alias claim is the error: it is dropped and reported against the
        distribution that declared it, and the named format stays usable.
        """
        kept = []
        for alias in spec.aliases:
            owner = self.api_formats.get(alias)
            if owner is None:
                kept.append(alias)
            else:
                self._alias_error(spec, alias, owner)
        claimant_name = self._aliases.pop(spec.name, None)
        if claimant_name is not None:
            claimant = self.api_formats[claimant_name]
            self._alias_error(claimant, spec.name, spec)
            self.api_formats[claimant_name] = dataclasses.replace(
                claimant, aliases=tuple(a for a in claimant.aliases if a != spec.name)
            )
        if len(kept) == len(spec.aliases):
            return spec
        return dataclasses.replace(spec, aliases=tuple(kept))

    def _alias_error(self, claimant: ApiFormatSpec, alias: str, owner: ApiFormatSpec) -> None:
        message = (
            f"API format {claimant.name!r} of {claimant.distribution} declares the alias "
            f"{alias!r}, which is the name of the format from {owner.distribution}; the name "
            f"wins and the alias is ignored: remove {alias!r} from the aliases in "
            f"{claimant.distribution}."
        )
        self.load_errors.append(LoadError(alias, claimant.distribution, claimant.version, message))

    # -- commands and observers ------------------------------------------------

    def _add_commands(self, plugin: object, name: str, dist: str, version: str) -> None:
        """Collect ``plugin``'s commands; a bad or clashing one is a load error
        naming the distribution (and the other claimant), the rest of it stays."""
        self._plugin_dists[name] = dist
        others = [p for p in self._pm.get_plugins() if p is not plugin]
        caller = self._pm.subset_hook_caller("writeback_commands", remove_plugins=others)
        try:
            specs = [spec for result in caller() for spec in (result or ())]
        except Exception as exc:
            self.load_errors.append(
                LoadError(name, dist, version, f"writeback_commands failed: {exc!r}")
            )
            return
        for spec in specs:
            problems = command_problems(spec)
            if problems:
                for problem in problems:
                    self.load_errors.append(
                        LoadError(name, dist, version, f"{dist}: {problem}; fix it in {dist}.")
                    )
                continue
            owner = "writeback (a core command)" if spec.name in CORE_COMMANDS else None
            if spec.name in self.commands:
                owner = self.commands[spec.name].distribution
            if owner is not None:
                message = (
                    f"command {spec.name!r} is provided by both {owner} and {dist}; "
                    f"{dist}'s is not loaded: uninstall one of them."
                )
                self.load_errors.append(LoadError(spec.name, dist, version, message))
                continue
            self.commands[spec.name] = dataclasses.replace(spec, distribution=dist, version=version)

    def observers(self) -> Observers:
        """The installed ``writeback_attempt_finished`` implementations, in call order."""
        found = []
        for impl in self._pm.hook.writeback_attempt_finished.get_hookimpls():
            function = impl.function
            # pluggy lets an implementation take fewer arguments than its spec.
            call = function if "record" in impl.argnames else (lambda _r, f=function: f())
            dist = self._plugin_dists.get(impl.plugin_name, impl.plugin_name)
            found.append(Observer(impl.plugin_name, dist, call))
        return Observers(found)

    # -- lookup --------------------------------------------------------------

    def canonical_format(self, name: str) -> str:
        """``rest`` -> ``json``: the format name an alias stands for."""
        return self._aliases.get(name, name)

    def connector_type(self, name: str) -> ConnectorTypeSpec:
        return self._get("connector_types", name)

    def api_format(self, name: str) -> ApiFormatSpec:
        return self._get("api_formats", self.canonical_format(name))

    def auth_method(self, name: str) -> AuthMethodSpec:
        return self._get("auth_methods", name)

    def _get(self, kind: str, name: str) -> Any:
        table: dict[str, Any] = getattr(self, kind)
        if name in table and name not in self._broken[kind]:
            return table[name]
        _, human, field = KINDS[kind]
        if name in self._broken[kind]:
            reason = self._broken[kind][name]
            if "provided by both" in reason:
                raise DuplicatePluginError(f"{field} {name!r}: {reason}")
            # The load error this reason was recorded from ("{dist} ({error})").
            owner = next(
                (e for e in self.load_errors if reason == f"{e.distribution} ({e.error})"), None
            )
            advice = (
                load_advice(owner.distribution, owner.error)
                if owner is not None
                else "run 'writeback plugins check' to see why"
            )
            raise PluginLoadError(
                f"{field} {name!r}: the plugin that provides it failed to load: {reason}; {advice}."
            )
        available = ", ".join(sorted(n for n in table if self.usable(kind, n))) or "none installed"
        dist = self.provider_of(kind, name)
        if dist in self._failed:
            raise PluginLoadError(
                f"{field} {name!r}: the plugin that provides it failed to load: {dist} "
                f"({self._failed[dist]}); {load_advice(dist, self._failed[dist])}."
            )
        if name in self.disabled or name in self._skipped or (dist and dist in self.disabled):
            raise PluginMissingError(
                f"{field} {name!r}: the {human} is disabled by {DISABLE_ENV}; "
                f"installed: {available}."
            )
        if dist:
            raise PluginMissingError(
                f"{field} {name!r}: the {human} is not installed; "
                f"run 'pip install {dist}' (installed: {available})."
            )
        raise PluginMissingError(
            f"{field} {name!r} is not a known {human}; installed: {available}."
        )

    def usable(self, kind: str, name: str) -> bool:
        """Whether ``name`` of ``kind`` (``auth_methods``, …) is installed and not clashed."""
        return name in getattr(self, kind) and name not in self._broken[kind]

    def provider_of(self, kind: str, name: str) -> str | None:
        """The distribution an installed connector type says provides a format or auth
        method (its ``provided_by``); ``None`` when none says."""
        if kind == "connector_types":
            return None
        for spec in sorted(self.connector_types.values(), key=lambda s: s.name):
            if spec.provided_by.get(name):
                return spec.provided_by[name]
        return None

    def missing_auth(self, spec: ConnectorTypeSpec) -> dict[str, str | None]:
        """Auth methods ``spec`` accepts that are not installed: name -> distribution."""
        accepted = dict.fromkeys(m for rule in spec.auth_rules for m in rule.methods)
        return {
            m: spec.provided_by.get(m) or self.provider_of("auth_methods", m)
            for m in accepted
            if not self.usable("auth_methods", m)
        }

    def summary(self) -> dict[str, Any]:
        """What ``writeback plugins --json`` prints; a name two plugins claim is left
        out (it is under ``load_errors``)."""

        def rows(kind: str, table: dict[str, Any]) -> list[dict[str, Any]]:
            out = []
            active = [s for s in table.values() if self.usable(kind, s.name)]
            for spec in sorted(active, key=lambda s: s.name):
                row = {
                    "name": spec.name,
                    "summary": spec.summary,
                    "distribution": spec.distribution,
                    "version": spec.version,
                }
                if isinstance(spec, ConnectorTypeSpec):
                    row["formats"] = list(spec.formats)
                    row["auth"] = {spec.label(rule.variant): {} for rule in spec.auth_rules}
                    for rule in spec.auth_rules:
                        row["auth"][spec.label(rule.variant)][rule.api_format] = [
                            m
                            for m in self.effective_methods(spec, rule.variant, rule.api_format)
                            if self.usable("auth_methods", m)
                        ]
                    row["missing_auth"] = self.missing_auth(spec)
                    row["coalesce"] = spec.coalesce_default
                elif isinstance(spec, ApiFormatSpec):
                    row["transport"] = spec.transport
                    row["aliases"] = list(spec.aliases)
                else:
                    row["transports"] = list(spec.transports)
                    row["secret_fields"] = list(spec.secret_fields)
                out.append(row)
            return out

        return {
            "connector_types": rows("connector_types", self.connector_types),
            "api_formats": rows("api_formats", self.api_formats),
            "auth_methods": rows("auth_methods", self.auth_methods),
            "load_errors": [e.as_dict() for e in self.load_errors],
        }

    def effective_methods(
        self, spec: ConnectorTypeSpec, variant: str, api_format: str
    ) -> tuple[str, ...]:
        """Auth methods the type accepts here that can ride the format's transport.

        A method whose plugin is not installed stays in the list (its transport is
        unknown, so it is not ruled out); selecting it names the distribution.
        """
        rule = spec.rule_for(variant, api_format)
        if rule is None:
            return ()
        fmt = self.api_formats.get(api_format)
        methods = []
        for method in rule.methods:
            auth = self.auth_methods.get(method)
            # Header credentials ride every transport; connection-bound ones name theirs.
            bound = fmt is not None and auth is not None and bool(auth.transports)
            if bound and fmt.transport not in auth.transports:  # type: ignore[union-attr]
                continue
            methods.append(method)
        return tuple(methods)


#: Kind key -> the descriptor class its hook returns.
_SPEC_CLASSES: dict[str, type] = {
    "connector_types": ConnectorTypeSpec,
    "api_formats": ApiFormatSpec,
    "auth_methods": AuthMethodSpec,
}


def _kind_of(spec: Any) -> str | None:
    return next((kind for kind, cls in _SPEC_CLASSES.items() if isinstance(spec, cls)), None)


def _nonconformance(dist: str, collected: dict[str, list[Any]]) -> list[str]:
    """One sentence per conformance problem of a plugin's declarations, naming ``dist``."""
    problems = []
    for kind, specs in collected.items():
        for spec in specs:
            if _kind_of(spec) != kind:
                problems.append(
                    f"{dist} was not loaded: {KINDS[kind][0]} returned a "
                    f"{type(spec).__name__}; return {_SPEC_CLASSES[kind].__name__} "
                    "descriptors from it."
                )
                continue
            for problem in conformance_problems(spec):
                problems.append(
                    f"{dist} was not loaded: {problem.rstrip('.')}; fix the declaration in "
                    f"{dist} (docs/hooks.md lists the rules) or uninstall it."
                )
    return problems
