"""The demo's back offices: Business Central and NAV on local simulators.

Three connectors, all in the same run as the webhooks of :mod:`.demo`:

- ``bc-api``: BC over its JSON API page (staging rows, ``databaseAction``
  I/U/D), OAuth2 client credentials from the demo's authorization server;
- ``bc-soap``: BC over its SOAP page ``Appointment`` with NTLM;
- ``nav-soap``: NAV over SOAP with ``windows`` (Negotiate).  With a Kerberos
  ticket from a throwaway MIT KDC when this machine can run one (``krb5kdc``
  found, the ``kerberos`` extra's gssapi and krb5 importable); otherwise as a
  ``DOMAIN\\user``, which ``windows`` authenticates with NTLM inside Negotiate.
  :attr:`BackOffices.nav_auth_line` says which, and why.

The KDC's ``KRB5_*`` variables are set in this process only while the demo
runs (the worker runs here) and restored afterwards.
"""

from __future__ import annotations

import contextlib
import importlib.util
from collections import Counter
from types import TracebackType
from typing import TYPE_CHECKING, Any

from .acceptors import BearerAcceptor

if TYPE_CHECKING:
    from .acceptors_windows import NegotiateAcceptor, NtlmAcceptor
    from .bc_api import BcApiServer
    from .kdc import TestKdc
    from .oauth2_server import OAuth2Server
    from .soap_page import SoapPageServer

__all__ = ["BC_APP", "NAV_APP", "BackOffices", "kerberos_unavailable_reason"]

BC_APP = "CRONUSBC"
NAV_APP = "CRONUSNAV"
BC_CLIENT = ("writeback-bc", "demo-bc-oauth2-secret-not-for-production")
BC_NTLM = ("CRONUS\\WEBUSER", "demo-bc-ntlm-password-not-for-production")
NAV_KERBEROS = ("planner", "demo-nav-kerberos-password-not-for-production")
NAV_NTLM = ("CRONUS\\NAVUSER", "demo-nav-ntlm-password-not-for-production")
#: What each back office must have received: (databaseAction, appointmentGuid).
EXPECTED_BC = Counter([("I", "B-1"), ("U", "B-1"), ("D", "B-0")])
EXPECTED_NAV = Counter([("I", "N-1"), ("U", "N-1"), ("D", "N-0")])
#: The subject of B-1's last update: what coalescing must let through.
LATEST_B1 = "Heat pump service (10:00)"
SECRETS = (BC_CLIENT[1], BC_NTLM[1], NAV_KERBEROS[1], NAV_NTLM[1])


def kerberos_unavailable_reason() -> str | None:
    """Why the demo cannot use Kerberos on this machine (a short phrase), or None when it can."""
    from .kdc import PROGRAMS, _which

    programs = [p for p in PROGRAMS if _which(p) is None]
    if programs:
        return f"no {', '.join(programs)}: install krb5-kdc and krb5-admin-server"
    modules = [m for m in ("gssapi", "krb5") if importlib.util.find_spec(m) is None]
    if modules:
        return (
            f"no {'/'.join(modules)} Python package: pip install "
            "'writeback-auth-windows[kerberos]', which needs libkrb5-dev"
        )
    return None


class BackOffices:
    """The BC API page, the BC SOAP page and the NAV SOAP page, with their acceptors.

    A context manager: entering starts everything (the KDC too, when Kerberos
    is used), leaving stops it and restores the environment.

    :param oauth2: the demo's running authorization server; a client for BC is
        registered on it.
    :param kerberos: False: NAV uses NTLM inside Negotiate; True or None:
        Kerberos when this machine can run a KDC (else NTLM, saying why).
    """

    def __init__(self, oauth2: OAuth2Server, *, kerberos: bool | None = None) -> None:
        self.oauth2 = oauth2
        self.wanted = kerberos
        self.kerberos = False
        self.nav_auth_line = ""
        self._nav_user = NAV_NTLM
        self._stack = contextlib.ExitStack()
        self.bc_api: BcApiServer
        self.bc_soap: SoapPageServer
        self.nav: SoapPageServer
        self.nav_acceptor: NtlmAcceptor | NegotiateAcceptor

    def __enter__(self) -> BackOffices:
        try:
            self._start()
        except BaseException:
            self._stack.close()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stack.close()

    def _start(self) -> None:
        from .acceptors_windows import NegotiateAcceptor, NtlmAcceptor
        from .bc_api import BcApiServer
        from .soap_page import SoapPageServer

        self.oauth2.register(*BC_CLIENT, method="client_secret_basic")
        enter = self._stack.enter_context
        self.bc_api = enter(BcApiServer(auth=BearerAcceptor(self.oauth2.principal)))
        bc_ntlm = enter(NtlmAcceptor({BC_NTLM[0]: BC_NTLM[1]}))
        self.bc_soap = enter(SoapPageServer(auth=bc_ntlm))
        kdc = self._start_kdc()
        if kdc is not None:
            self.nav_acceptor = enter(NegotiateAcceptor(hostname="127.0.0.1"))
        else:
            # NAV answers `WWW-Authenticate: Negotiate`; NTLM travels inside it.
            users = {NAV_NTLM[0]: NAV_NTLM[1]}
            self.nav_acceptor = enter(NtlmAcceptor(users, schemes=("Negotiate",)))
        self.nav = enter(SoapPageServer(auth=self.nav_acceptor, instance="DynamicsNAV110"))

    def _start_kdc(self) -> TestKdc | None:
        """Start and activate a KDC if Kerberos is wanted and possible; say what was chosen."""
        reason = "turned off for this run" if self.wanted is False else None
        reason = reason or kerberos_unavailable_reason()
        kdc = None
        if reason is None:
            from .kdc import KdcUnavailableError, TestKdc

            try:
                kdc = self._stack.enter_context(TestKdc({NAV_KERBEROS[0]: NAV_KERBEROS[1]}))
            except KdcUnavailableError as exc:
                reason = f"the throwaway KDC did not start: {exc}"
        if kdc is None:
            self.nav_auth_line = (
                f"Kerberos not available here ({reason}); "
                f"NAV uses NTLM inside Negotiate as {NAV_NTLM[0]}"
            )
            return None
        # Restored when the stack closes (TestKdc.stop() deactivates as well).
        self._stack.enter_context(kdc.activated())
        self.kerberos = True
        self._nav_user = (kdc.principal(NAV_KERBEROS[0]), NAV_KERBEROS[1])
        self.nav_auth_line = (
            f"Kerberos available here: NAV gets a ticket for {kdc.principal(NAV_KERBEROS[0])} "
            f"from a throwaway KDC on 127.0.0.1:{kdc.port}"
        )
        return kdc

    # -- connector rows ------------------------------------------------------------

    def rows(self) -> list[dict[str, Any]]:
        """The three connector rows, pointed at the running simulators."""
        user, password = self._nav_user
        # Quick retries: nothing here is meant to fail; the default waits minutes.
        retry = {"schedule": [0.5, 1]}
        return [
            {
                "name": "bc-api",
                "description": f"{BC_APP} changes as staging rows on BC's API page, OAuth2",
                "type": "bc",
                "uri": self.bc_api.endpoint,
                "api_type": "json",
                "source_app": BC_APP,
                "retry": retry,
                "auth": {
                    "method": "oauth2",
                    "token_url": self.oauth2.token_url,
                    "client_id": BC_CLIENT[0],
                    "client_secret": BC_CLIENT[1],
                    "scope": "api://bc/.default",
                },
            },
            {
                "name": "bc-soap",
                "description": f"{BC_APP} changes to BC's SOAP page Appointment, NTLM",
                "type": "bc",
                "uri": self.bc_soap.page_url,
                "api_type": "soap",
                "source_app": BC_APP,
                "retry": retry,
                "auth": {"method": "ntlm", "username": BC_NTLM[0], "password": BC_NTLM[1]},
            },
            {
                "name": "nav-soap",
                "description": f"{NAV_APP} changes to NAV's SOAP page Appointment, windows",
                "type": "nav",
                "uri": self.nav.page_url,
                "api_type": "soap",
                "source_app": NAV_APP,
                "retry": retry,
                "auth": {"method": "windows", "username": user, "password": password},
            },
        ]

    # -- what arrived ----------------------------------------------------------------

    def received(self) -> dict[str, list[tuple[str, str, str]]]:
        """Per connector, ``(databaseAction, appointmentGuid, subject)`` in arrival order."""
        return {
            "bc-api": [
                (r.fields["databaseAction"], r.fields["appointmentGuid"], r.fields["subject"])
                for r in self.bc_api.rows
            ],
            "bc-soap": _creates(self.bc_soap),
            "nav-soap": _creates(self.nav),
        }

    def ok(self) -> bool:
        """Everything arrived once, coalesced, and NAV by the auth path announced."""
        got = {name: Counter(r[:2] for r in rows) for name, rows in self.received().items()}
        latest = {r[2] for rows in self.received().values() for r in rows if r[:2] == ("U", "B-1")}
        protocol = "kerberos" if self.kerberos else "ntlm"
        return (
            got == {"bc-api": EXPECTED_BC, "bc-soap": EXPECTED_BC, "nav-soap": EXPECTED_NAV}
            and latest == {LATEST_B1}
            and {c.protocol for c in self.nav_acceptor.connections.values()} == {protocol}
            and self.nav_acceptor.totals().failed == 0
        )

    def report(self, superseded: Counter[str]) -> list[str]:
        """One line per back office, then one on coalescing."""
        got = self.received()
        bc_clients = ", ".join(sorted({r.principal or "?" for r in self.bc_api.rows}))
        bc_users = ", ".join(sorted({c.principal or "?" for c in self.bc_soap.calls}))
        nav_users = ", ".join(sorted({c.principal or "?" for c in self.nav.calls}))
        nav = self.nav_acceptor.totals()
        inside = "/".join(
            sorted({c.protocol or "?" for c in self.nav_acceptor.connections.values()})
        )
        updates = sorted({r[2] for r in got["bc-api"] if r[:2] == ("U", "B-1")})
        return [
            f"bc-api: {len(got['bc-api'])} staging rows, databaseAction per appointment "
            f"{_by_appointment(got['bc-api'])}; OAuth2 client {bc_clients}, "
            f"{self.oauth2.issued(BC_CLIENT[0])} token request(s)",
            f"bc-soap: {len(got['bc-soap'])} SOAP Create records, Database_Action per "
            f"appointment {_by_appointment(got['bc-soap'])}; NTLM as {bc_users}, "
            f"{self.bc_soap.wsdl_gets} WSDL fetch(es)",
            f"nav-soap: {len(got['nav-soap'])} SOAP Create records, Database_Action per "
            f"appointment {_by_appointment(got['nav-soap'])}; Negotiate ({inside} inside) "
            f"as {nav_users}, {nav.completed} handshake(s) on "
            f"{self.nav.connections_accepted} connection(s)",
            f"coalescing (on by default for bc and nav): {superseded['bc-api']} deliveries "
            f"superseded on bc-api, {superseded['bc-soap']} on bc-soap: B-1's first update "
            f"gave way to the second (BC got {', '.join(repr(u) for u in updates)}), and B-2 "
            "was created and deleted before it left, so BC never hears of it",
        ]


def _creates(page: SoapPageServer) -> list[tuple[str, str, str]]:
    """``(Database_Action, Appointment_Guid, Subject)`` of each successful Create."""
    found = []
    for call in page.calls:
        if call.operation == "Create" and call.status == 200:
            record = call.arguments.get(page.service) or {}
            found.append(
                (
                    str(record.get("Database_Action")),
                    str(record.get("Appointment_Guid")),
                    str(record.get("Subject")),
                )
            )
    return found


def _by_appointment(rows: list[tuple[str, str, str]]) -> str:
    """``B-0: D; B-1: I, U``: actions in arrival order per appointment (only that order is kept;
    different appointments travel independently)."""
    actions: dict[str, list[str]] = {}
    for action, guid, _ in rows:
        actions.setdefault(guid, []).append(action)
    return "; ".join(f"{guid}: {', '.join(acts)}" for guid, acts in sorted(actions.items()))
