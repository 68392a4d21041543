"""``writeback demo``: the whole flow against local simulators.

Starts five webhook receivers on loopback (one failing twice before it
recovers, one requiring Basic auth, one verifying signatures, two requiring
Bearer tokens), an OAuth2 authorization server and an Entra-style authority on
HTTPS signed by a throwaway CA (trusted through ``SSL_CERT_FILE`` and
``REQUESTS_CA_BUNDLE`` for the demo's duration), and three back offices
(:mod:`.demo_backoffice`: BC over JSON with OAuth2, BC over SOAP with NTLM, NAV
over SOAP with ``windows``); registers connectors for four source apps,
dispatches a batch of create/update/delete events, drains them with the real
worker, and prints what each receiver got.  Every variable it sets is restored.
"""

from __future__ import annotations

import base64
import contextlib
import importlib.util
import os
import shlex
import shutil
import sys
import tempfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from rich.console import Console

from .acceptors import BearerAcceptor
from .demo_backoffice import BC_APP, LATEST_B1, NAV_APP, BackOffices
from .webhook import Step, WebhookReceiver

__all__ = ["DEMO_EVENTS", "demo_connectors", "run_demo"]

SIGNING_SECRET = "whsec_" + base64.b64encode(b"writeback-demo-signing-key-0001").decode()
BASIC = ("demo", "demo-password-not-for-production")
#: Holds every character RFC 6749 §2.3.1 encoding changes: the OAuth2 server is strict.
OAUTH2_SECRET = "demo-oauth2+secret/=%~ not-for-production"
ENTRA_SECRET = "demo-entra-secret-not-for-production"


def demo_connectors(
    flaky: str,
    basic: str,
    signed: str,
    tokens: tuple[str, str, str, str] | None = None,
) -> list[dict[str, Any]]:
    """The demo's connector rows, pointed at the receivers.

    ``tokens``: ``(oauth2 receiver, token URL, entra receiver, Entra authority)``
    adds the two token-auth connectors.
    """
    return _basic_rows(flaky, basic, signed) + (_token_rows(*tokens) if tokens else [])


def _token_rows(oauth_hook: str, token_url: str, entra_hook: str, authority: str) -> list[Any]:
    return [
        {
            "name": "ops-oauth2",
            "description": "CRONUSUS changes with OAuth2 client credentials (client_secret_basic)",
            "type": "webhook",
            "uri": f"{oauth_hook}/hooks/ops-oauth2",
            "api_type": "json",
            "source_app": "CRONUSUS",
            "auth": {
                "method": "oauth2",
                "token_url": token_url,
                "client_id": "writeback-demo",
                "client_secret": OAUTH2_SECRET,
                "scope": "appointments.write",
            },
        },
        {
            "name": "field-entra",
            "description": "FIELDAPP changes with Microsoft Entra ID (a local authority on TLS)",
            "type": "webhook",
            "uri": f"{entra_hook}/hooks/field-entra",
            "api_type": "json",
            "source_app": "FIELDAPP",
            "auth": {
                "method": "entra",
                "tenant_id": "contoso",
                "client_id": "00000000-0000-0000-0000-00000000d3m0",
                "client_secret": ENTRA_SECRET,
                "scope": "api://field/.default",
                "authority": authority,
            },
        },
    ]


def _basic_rows(flaky: str, basic: str, signed: str) -> list[dict[str, Any]]:
    return [
        {
            "name": "crm-webhook",
            "description": "CRONUSUS changes to a CRM; the receiver fails twice first",
            "type": "webhook",
            "uri": f"{flaky}/hooks/crm",
            "api_type": "json",
            "source_app": "CRONUSUS",
            "retry": {"schedule": [0.5, 1, 2, 4]},
        },
        {
            "name": "ops-basic",
            "description": "CRONUSUS creates and updates only, with Basic auth",
            "type": "webhook",
            "uri": f"{basic}/hooks/ops",
            "api_type": "rest",
            "source_app": "CRONUSUS",
            "crud_types": ["create", "update"],
            "auth": {"method": "basic", "username": BASIC[0], "password": BASIC[1]},
        },
        {
            "name": "field-signed",
            "description": "FIELDAPP changes, signed (Standard Webhooks), bare appointment",
            "type": "webhook",
            "uri": f"{signed}/hooks/field",
            "api_type": "json",
            "source_app": "FIELDAPP",
            "options": {"signing_secret": SIGNING_SECRET, "payload": "appointment"},
        },
    ]


def _event(n: int, action: str, guid: str, source: str, subject: str) -> dict[str, Any]:
    return {
        "id": f"demo-{n:03d}",
        "action": action,
        "occurred_at": f"2026-11-24T08:{n:02d}:00Z",
        "appointment": {
            "appointmentGuid": guid,
            "sourceApp": source,
            "sourceType": "SERVICE",
            "jobNo": "SO100",
            "taskNo": "10",
            "subject": subject,
            "start": "2026-11-25T08:00:00Z",
            "end": "2026-11-25T10:00:00Z",
            "resources": [{"resourceNo": "R-ANNA"}],
        },
    }


DEMO_EVENTS = [
    _event(1, "create", "A-1", "CRONUSUS", "Boiler check"),
    _event(2, "update", "A-1", "CRONUSUS", "Boiler check (moved)"),
    _event(3, "create", "A-2", "CRONUSUS", "Valve replacement"),
    _event(4, "delete", "A-2", "CRONUSUS", "Valve replacement"),
    _event(5, "create", "F-1", "FIELDAPP", "Site survey"),
    _event(6, "update", "F-1", "FIELDAPP", "Site survey (2 h)"),
    # Business Central (bc-api and bc-soap coalesce): the first update of B-1 is
    # replaced by the second; B-2 is created and deleted before it leaves, so
    # neither is sent; B-0 was planned before the demo and is deleted.
    _event(7, "create", "B-1", BC_APP, "Heat pump service"),
    _event(8, "update", "B-1", BC_APP, "Heat pump service (09:00)"),
    _event(9, "update", "B-1", BC_APP, LATEST_B1),
    _event(10, "create", "B-2", BC_APP, "Gas meter reading"),
    _event(11, "delete", "B-2", BC_APP, "Gas meter reading"),
    _event(12, "delete", "B-0", BC_APP, "Planned last week"),
    _event(13, "create", "N-1", NAV_APP, "Pump inspection"),
    _event(14, "update", "N-1", NAV_APP, "Pump inspection (3 h)"),
    _event(15, "delete", "N-0", NAV_APP, "Planned last week"),
    _event(16, "create", "X-1", "NOBODY", "An app with no connector"),
]


def run_demo(
    db_url: str | None, *, out: Console, err: Console, kerberos: bool | None = None
) -> int:
    """Run the demo; return the exit code (0 when everything arrived as expected).

    ``kerberos``: None lets NAV use Kerberos when this machine can run a KDC;
    False forces the NTLM-inside-Negotiate path, True/None try Kerberos.
    """
    from writeback import Dispatcher

    from .entra import EntraAuthority, TestCA
    from .oauth2_server import OAuth2Server

    folder = Path(tempfile.mkdtemp(prefix="writeback-demo-"))
    if db_url is None:
        db_url = f"sqlite:///{folder / 'writeback.db'}"
    flaky = WebhookReceiver(
        plan={"/hooks/crm": [Step(503, retry_after=1), Step(503, retry_after=1)]}
    )
    basic = WebhookReceiver(basic_auth=BASIC)
    signed = WebhookReceiver(signing_secret=SIGNING_SECRET)
    oauth2 = OAuth2Server()
    oauth2.register("writeback-demo", OAUTH2_SECRET, method="client_secret_basic")
    ca = TestCA()
    entra = EntraAuthority(ca.server_context())
    entra.register("00000000-0000-0000-0000-00000000d3m0", ENTRA_SECRET)
    oauth_hook = WebhookReceiver(auth=BearerAcceptor(oauth2.principal))
    entra_hook = WebhookReceiver(auth=BearerAcceptor(entra.principal))
    bundle = ca.write_bundle(folder / "demo-ca.pem", with_system=True)
    with contextlib.ExitStack() as stack:
        stack.enter_context(_trusting(str(bundle)))
        for server in (flaky, basic, signed, oauth2, entra, oauth_hook, entra_hook):
            stack.enter_context(server)
        offices = stack.enter_context(BackOffices(oauth2, kerberos=kerberos))
        wb = stack.enter_context(Dispatcher.open(db_url))
        out.print(f"[bold]writeback demo[/] on {db_url}")
        tokens = (oauth_hook.url, oauth2.token_url, entra_hook.url, entra.url)
        rows = demo_connectors(flaky.url, basic.url, signed.url, tokens) + offices.rows()
        wb.connectors.add(rows, replace=True)
        for r in rows:
            out.print(f"  connector [cyan]{r['name']}[/]: {r['description']}")
        out.print(offices.nav_auth_line, markup=False)
        results = wb.submit_many(DEMO_EVENTS)
        made = sum(len(r.deliveries) for r in results)
        unmatched = [r.event_id for r in results if not r.deliveries]
        out.print(
            f"dispatched {len(results)} events -> {made} deliveries"
            + (f"; no connector for {', '.join(unmatched)}" if unmatched else "")
        )
        stats = wb.run_worker(until_idle=True, concurrency=8)
        superseded = _print_table(wb, out)
        signatures = [r.signature_valid for r in signed.deliveries]
        out.print(
            f"receivers: crm got {flaky.count()} requests ({flaky.count(503)} answered 503), "
            f"ops got {len(basic.deliveries)}, field got {len(signed.deliveries)} "
            f"(signatures valid: {all(signatures) and bool(signatures)})"
        )
        out.print(
            f"tokens: ops-oauth2 got {len(oauth_hook.deliveries)} deliveries with "
            f"{oauth2.issued('writeback-demo')} token request(s); field-entra got "
            f"{len(entra_hook.deliveries)} with {entra.token_requests} (over TLS, test CA)"
        )
        out.print("back offices:")
        for line in offices.report(superseded):
            out.print(f"  {line}", markup=False, highlight=False)
        ok = (
            stats.dead == 0
            and all(signatures)
            and len(signed.deliveries) == 2
            and len(oauth_hook.deliveries) == 4
            and len(entra_hook.deliveries) == 2
            and offices.ok()
        )
    command = runnable_command()
    db_flag = f"--db {shlex.quote(db_url)}"
    out.print("\nwhere to look next:")
    lines = [
        f"{command} {db_flag} deliveries list",
        f"{command} {db_flag} deliveries show <id>      every attempt of one delivery",
        f"{command} {db_flag} connectors list",
        f"{command} plugins      what is installed",
    ]
    # The dashboard comes with writeback-server, which the demo does not need.
    if importlib.util.find_spec("writeback_server") is not None:
        lines += [
            f"{command} {db_flag} api-keys create ops --scope admin      a key to sign in with",
            f"{command} {db_flag} serve      then open http://127.0.0.1:8080/ui/ in a browser",
        ]
    for line in lines:
        out.print(f"  {line}", markup=False, highlight=False)
    if not ok:
        err.print("demo: something did not arrive as expected (see the table above)")
    return 0 if ok else 1


def runnable_command(argv0: str | None = None) -> str:
    """How to run ``writeback`` again from this shell, as the demo was run: plain
    ``writeback`` when that is on PATH and the same program, else its path
    (``.venv/bin/writeback`` from ``make demo``, the venv not activated), or
    ``python -m writeback`` with this interpreter."""
    argv0 = sys.argv[0] if argv0 is None else argv0
    script = Path(argv0)
    if script.name == "__main__.py" or not script.is_file():
        return f"{shlex.quote(sys.executable)} -m writeback"
    found = shutil.which("writeback")
    if found is not None and Path(found).resolve() == script.resolve():
        return "writeback"
    try:
        shown = str(script.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        shown = str(script.resolve())
    return shlex.quote(shown if "/" in shown else f"./{shown}")


@contextlib.contextmanager
def _trusting(bundle: str) -> Iterator[None]:
    """Point the CA bundle variables at ``bundle`` (system CAs + the demo's), then restore."""
    names = ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE")
    saved = {name: os.environ.get(name) for name in names}
    os.environ.update(dict.fromkeys(names, bundle))
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _print_table(wb: Any, out: Console) -> Counter[str]:
    """Print every delivery; return how many were superseded, per connector."""
    from rich.table import Table

    grid = Table(title="deliveries", title_justify="left")
    for column in (
        "delivery",
        "connector",
        "action",
        "appointment",
        "status",
        "attempts",
        "last error",
    ):
        grid.add_column(column, no_wrap=column in ("delivery", "status"))
    superseded: Counter[str] = Counter()
    for row in wb.deliveries.list():
        if row.status == "superseded":
            superseded[row.connector_name] += 1
        grid.add_row(
            row.id,
            row.connector_name,
            row.action,
            row.appointment_key,
            row.status,
            str(row.attempts),
            (row.last_error or "")[:50],
        )
    if out.is_terminal or os.environ.get("COLUMNS"):
        out.print(grid)
        return superseded
    # Into a file or a pipe (CI, `make demo | tee`): rich would assume 80 columns
    # and cut every connector name to three letters; print at the table's own width.
    from rich.measure import Measurement

    assumed = out.width
    out.width = max(assumed, Measurement.get(out, out.options.update(width=10_000), grid).maximum)
    try:
        out.print(grid)
    finally:
        out.width = assumed
    return superseded
