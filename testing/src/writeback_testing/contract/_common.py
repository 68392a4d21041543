"""What the three contract suites share: loading the plugin alone, the light-import
probe, one-sentence refusals, sending through the real pipeline, opting out."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, ClassVar

import pytest
from writeback import InvalidConnectorError
from writeback.plugin import (
    AttemptResult,
    Delivery,
    Pipeline,
    PluginRegistry,
    ProbeReport,
    ValidatedConnector,
    conformance_problems,
    validate_connector,
)

from writeback_testing.contract._backends import BACKENDS, Backend
from writeback_testing.registry import writeback_registry

__all__ = ["HEAVY_MODULES", "ContractBase"]

#: Libraries a plugin module must not import when it is only declaring.
HEAVY_MODULES = (
    "httpx",
    "httpcore",
    "requests",
    "urllib3",
    "zeep",
    "lxml",
    "msal",
    "authlib",
    "requests_ntlm",
    "spnego",
    "gssapi",
    "aiohttp",
    "sqlalchemy",
    "psycopg",
)

#: Run in a fresh interpreter: load the plugin module, call its declaration hooks,
#: and name each heavy library it imported with the first line that imported it.
_PROBE = r"""
import importlib, importlib.metadata, json, sys, traceback
name, module_name, heavy = sys.argv[1], sys.argv[2], set(sys.argv[3].split(","))
import writeback.plugin  # the plugin API: every plugin imports it anyway
already = {m.split(".")[0] for m in sys.modules}
seen = {}

class Watch:
    def find_spec(self, fullname, path=None, target=None):
        top = fullname.split(".")[0]
        if top in heavy and top not in already and top not in seen:
            frames = [
                f for f in traceback.extract_stack()[:-1]
                if not f.filename.startswith("<") and "importlib" not in f.filename
            ]
            seen[top] = f"{frames[-1].filename}:{frames[-1].lineno}" if frames else "?"
        return None

sys.meta_path.insert(0, Watch())
if module_name:
    module_name, _, attribute = module_name.partition(":")
    module = importlib.import_module(module_name)
    module = getattr(module, attribute) if attribute else module
else:
    found = [e for e in importlib.metadata.entry_points(group="writeback") if e.name == name]
    module = found[0].load()
for hook in ("writeback_connector_types", "writeback_api_formats", "writeback_auth_methods",
             "writeback_commands"):
    function = getattr(module, hook, None)
    if callable(function):
        function()
print(json.dumps(seen))
"""

#: An appointment with the fields the shipped types read.
APPOINTMENT: Mapping[str, Any] = {
    "sourceApp": "CRONUSUS",
    "appointmentNo": 17,
    "appointmentGuid": "6f0c2f4e-0000-4000-8000-000000000017",
    "sourceType": "SERVICE",
    "jobNo": "SO100",
    "taskNo": "10",
    "subject": "Boiler check",
    "start": "2026-11-24T09:00:00+01:00",
    "end": "2026-11-24T10:00:00+01:00",
    "isAllDayEvent": False,
    "planningQuantity": 1.0,
}

#: The text a refusing back office puts in its answer; an error must keep it.
REFUSAL = "contract check: field 'colour' is not accepted by this back office"


def run(coro: Any) -> Any:
    return asyncio.run(coro)


class ContractBase:
    """Attributes every suite reads (set them on your subclass):

    - ``plugin``: the plugin's entry-point name in group ``writeback`` (by
      convention its short name); required.
    - ``plugin_module``: a dotted module path (``"pkg.plugin"``, or
      ``"pkg.mod:attribute"`` for an object whose methods carry ``@hookimpl``) to
      register under ``plugin`` instead of the installed entry point (a plugin
      not installed yet, a test-local one).
    - ``uses``: other installed plugins the rows need (entry-point or
      distribution names), loaded with it and nothing else.
    - ``skip_checks``: check name (the test name without ``test_``) -> the
      reason it cannot apply to this plugin; the check is skipped with it.
    - ``heavy_modules``: what declaring must not import (:data:`HEAVY_MODULES`).
    - ``appointment``: the appointment deliveries carry.
    """

    plugin: ClassVar[str] = ""
    plugin_module: ClassVar[str | None] = None
    uses: ClassVar[Sequence[str]] = ()
    skip_checks: ClassVar[Mapping[str, str]] = {}
    heavy_modules: ClassVar[Sequence[str]] = HEAVY_MODULES
    appointment: ClassVar[Mapping[str, Any]] = APPOINTMENT

    #: The registry table and human name of the kind under test (set per suite).
    _kind: ClassVar[str] = ""
    _human: ClassVar[str] = ""

    # -- set-up -----------------------------------------------------------------------

    def opt_out(self, check: str) -> None:
        """Skip ``check`` when the subclass opted out of it, with its reason."""
        reason = self.skip_checks.get(check)
        if reason:
            pytest.skip(f"{type(self).__name__} opts out of {check}: {reason}")

    def declared_name(self) -> str:
        """The name the plugin declares the thing under test as (default: ``plugin``)."""
        return self.plugin

    def extra_plugins(self) -> dict[str, object]:
        """Test-local plugins registered beside the one under test."""
        return {}

    @pytest.fixture
    def contract_registry(self) -> PluginRegistry:
        """The built-ins, the plugin under test, ``uses`` and the suite's stand-ins only."""
        if not self.plugin:
            pytest.fail(f"{type(self).__name__}: set plugin = '<entry-point name>' on the class.")
        plugins: dict[str, object] = {}
        only = [*self.uses]
        if self.plugin_module:
            plugins[self.plugin] = self.plugin_module
        else:
            only.insert(0, self.plugin)
        plugins.update(self.extra_plugins())
        return writeback_registry(only=only, plugins=plugins)

    @pytest.fixture
    def contract_backends(self) -> Iterator[Callable[..., Backend]]:
        """``start(kind, acceptor=None)``: loopback back offices, stopped after the test."""
        started: list[Backend] = []

        def start(kind: str, acceptor: Any = None) -> Backend:
            if kind not in BACKENDS:
                pytest.fail(
                    f"{type(self).__name__}: backend {kind!r} is not one of {sorted(BACKENDS)}."
                )
            backend = BACKENDS[kind](acceptor)
            started.append(backend)
            return backend

        yield start
        for backend in started:
            backend.stop()

    def lookup(self, registry: PluginRegistry) -> Any:
        getter = {
            "connector_types": registry.connector_type,
            "api_formats": registry.api_format,
            "auth_methods": registry.auth_method,
        }[self._kind]
        return getter(self.declared_name())

    # -- checks every kind makes ------------------------------------------------------

    def test_declarations_conform(self, contract_registry: PluginRegistry) -> None:
        """The plugin loads alone, declares the thing under test, and it conforms."""
        self.opt_out("declarations_conform")
        # An entry point's errors carry its name, a registered object's its name as its
        # distribution too; a name clash carries the clashing descriptor's name.
        ours = {self.plugin, self.declared_name()}
        errors = [
            e.error
            for e in contract_registry.load_errors
            if e.name in ours or e.distribution == self.plugin
        ]
        assert not errors, "the plugin did not load: " + " | ".join(errors)
        table = getattr(contract_registry, self._kind)
        assert self.declared_name() in table, (
            f"{self.plugin} declares no {self._human} named {self.declared_name()!r} (it "
            f"declares: {', '.join(sorted(table)) or 'none'}); return a descriptor with that "
            "name from its hook, or set the suite's name attribute."
        )
        problems = conformance_problems(self.lookup(contract_registry))
        assert not problems, "fix the declaration: " + " ".join(problems)

    def test_opt_outs_name_real_checks(self) -> None:
        """Every ``skip_checks`` key names a check of this suite and gives a reason."""
        for check, reason in self.skip_checks.items():
            assert hasattr(self, f"test_{check}"), (
                f"skip_checks names {check!r}, which is not a check of {type(self).__name__}; "
                "use a test name without 'test_'."
            )
            assert str(reason).strip(), f"skip_checks[{check!r}] gives no reason; say why."

    def test_declaring_imports_no_heavy_library(self) -> None:
        """Importing the plugin module and calling its hooks imports no protocol library."""
        self.opt_out("declaring_imports_no_heavy_library")
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
        done = subprocess.run(
            [
                sys.executable,
                "-c",
                _PROBE,
                self.plugin,
                self.plugin_module or "",
                ",".join(self.heavy_modules),
            ],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )
        assert done.returncode == 0, f"importing the plugin module failed:\n{done.stderr}"
        found = json.loads(done.stdout.strip().splitlines()[-1])
        where = "; ".join(f"{lib} (imported at {line})" for lib, line in sorted(found.items()))
        assert not found, (
            f"declaring {self.plugin} imports {where}: import it inside the factory (or a "
            "module the factory imports), since 'writeback plugins' and every row validation "
            "import the plugin module."
        )

    # -- helpers ----------------------------------------------------------------------

    def refusals(self, row: Mapping[str, Any], registry: PluginRegistry) -> list[str]:
        """The one-sentence problems validating ``row`` gives (empty when it is valid)."""
        try:
            validate_connector(dict(row), registry)
        except InvalidConnectorError as exc:
            return list(exc.problems)
        return []

    def assert_refused(
        self, row: Mapping[str, Any], registry: PluginRegistry, what: str, field: str
    ) -> None:
        """``row`` is refused, each problem one line naming ``field`` (``options``, ``auth``)."""
        problems = self.refusals(row, registry)
        assert problems, f"{what} were accepted; refuse them in the settings model (a validator)."
        for problem in problems:
            text = problem.strip()
            assert text and "\n" not in text and "Traceback" not in text, (
                f"{what} were refused with {problem!r}, not one sentence; raise ValueError "
                "with one sentence from the validator."
            )
            assert f"{field}." in text or f"{field} " in text, (
                f"{what} were refused with {problem!r}, which does not name the {field} "
                "field at fault; raise the ValueError from a field validator."
            )

    def assert_hidden(
        self, shown: Mapping[str, str], secrets: Mapping[str, str], backend: Backend
    ) -> None:
        """No secret value, nor any credential the back office received, in ``shown``."""
        hidden = [(f"the secret {k}", v) for k, v in secrets.items()]
        hidden += [("the credentials sent", c) for c in backend.credentials_seen()]
        for where, text in shown.items():
            for what, value in hidden:
                assert len(value) < 4 or value not in text, (
                    f"{where} shows {what}; reveal secrets only with context.reveal(...), "
                    "register what you make or receive with add_secret, and pass third-party "
                    "text through writeback.plugin.redact."
                )

    def deliver(
        self,
        connector: ValidatedConnector,
        actions: Sequence[str] = ("create",),
        *,
        probe: bool = False,
        before_send: Callable[[int], None] | None = None,
    ) -> tuple[list[AttemptResult], ProbeReport | None]:
        """Build the pipeline and send one delivery per action (and probe), as a worker does."""

        async def go() -> tuple[list[AttemptResult], ProbeReport | None]:
            pipeline = Pipeline.build(connector)
            try:
                report = await pipeline.probe() if probe else None
                results = []
                for n, action in enumerate(actions, 1):
                    if before_send is not None:
                        before_send(n - 1)
                    delivery = Delivery(
                        id=f"contract-{n}",
                        event_id=f"event-{n}",
                        action=action,
                        appointment=dict(self.appointment),
                        occurred_at=None,
                    )
                    results.append(await pipeline.send(delivery))
                return results, report
            finally:
                await pipeline.aclose()

        return run(go())  # type: ignore[no-any-return]
