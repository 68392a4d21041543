"""Redirects are never followed, and ``connectors test`` says so: the real CLI
against loopback servers that redirect on purpose (``writeback_hostile_factory``).

A redirect may point at another origin (where an NTLM handshake would complete
and create the record) or from ``https://`` to ``http://`` (where the record
would travel in clear).  Every format refuses to follow any: the attempt is
``failed``, naming where the endpoint pointed, without user-info or query.
"""

from __future__ import annotations

from typing import Any

from writeback_testing._fixtures_windows import NTLM_USERS
from writeback_testing.acceptors_windows import NtlmAcceptor
from writeback_testing.hostile import Answer, PageWsdl, Redirect, soap_create_result

from .conftest import appointment_event, webhook_row

NTLM_USER = "CRONUS\\WEBUSER"
PASSWORD = "Nav-User-Password-4711"


def soap_row(name: str, uri: str, auth: dict[str, Any], **options: Any) -> dict[str, Any]:
    return {
        "name": name,
        "type": "bc",
        "api_type": "soap",
        "uri": uri,
        "source_app": "CRONUSUS",
        "auth": auth,
        "retry": {"schedule": [0.2]},
        "coalesce": False,
        "options": {"timeout": 10, **options},
    }


BASIC = {"method": "basic", "username": "WEBUSER", "password": PASSWORD}
NTLM = {"method": "ntlm", "username": NTLM_USER, "password": NTLM_USERS[NTLM_USER]}


def deliveries_by_connector(cli: Any) -> dict[str, dict[str, Any]]:
    return {d["connector"]: d for d in cli("deliveries", "list", "--json").json()}


def test_soap_follows_no_redirect_to_another_origin_with_ntlm(
    cli: Any, writeback_soap_page_factory: Any, writeback_hostile_factory: Any
) -> None:
    with NtlmAcceptor(NTLM_USERS) as acceptor:
        target = writeback_soap_page_factory(auth=acceptor)
        elsewhere = f"127.0.0.1:{target.port}{target.path}"
        # The calls are redirected (the page's own WSDL is served), or the WSDL is.
        calls = writeback_hostile_factory(
            {
                "GET": PageWsdl(),
                "POST": Redirect(f"http://intruder:s3cret@{elsewhere}?token=abc123"),
            }
        )
        wsdl = writeback_hostile_factory({"*": Redirect(target.page_url, status=302)})
        rows = [
            soap_row("calls", calls.url + target.path, NTLM),
            soap_row("wsdl", wsdl.url + target.path, NTLM),
        ]
        cli("connectors", "add", cli.file(rows))
        cli("dispatch", cli.file(appointment_event("create", "G1")))
        cli("worker", "--until-idle")
        done = deliveries_by_connector(cli)
        assert target.records == [] and target.wsdl_gets == 0
        assert acceptor.totals().started == 0  # no handshake happened at the target
    assert done["calls"]["status"] == "dead"
    error = done["calls"]["last_error"]
    assert f"HTTP 307: redirected to http://{elsewhere}?…" in error
    assert "s3cret" not in error and "abc123" not in error and "intruder" not in error
    assert done["wsdl"]["status"] == "dead"
    assert "WB-322" in done["wsdl"]["last_error"]
    assert f"HTTP 302: redirected to {target.page_url}" in done["wsdl"]["last_error"]
    assert [r.method for r in calls.requests] == ["GET", "POST"]  # one attempt: failed


def test_https_soap_page_redirecting_to_http_receives_no_record_in_clear(
    cli: Any, writeback_hostile_factory: Any, writeback_test_ca_bundle: Any
) -> None:
    cli.env.update(
        SSL_CERT_FILE=str(writeback_test_ca_bundle),
        REQUESTS_CA_BUNDLE=str(writeback_test_ca_bundle),
    )
    sink = writeback_hostile_factory({"*": Answer(200, soap_create_result())})
    page = writeback_hostile_factory(
        {"GET": PageWsdl(), "POST": Redirect(f"{sink.url}/BC/WS/Page/Appointment")}, tls=True
    )
    cli(
        "connectors", "add", cli.file([soap_row("bc", page.url + "/BC/WS/Page/Appointment", BASIC)])
    )
    cli("dispatch", cli.file(appointment_event("create", "G1", subject="Private matter")))
    cli("worker", "--until-idle")
    (delivery,) = cli("deliveries", "list", "--json").json()
    assert sink.requests == []
    assert delivery["status"] == "dead"
    assert f"HTTP 307: redirected to {sink.url}/BC/WS/Page/Appointment" in delivery["last_error"]
    assert PASSWORD not in "".join(cli.outputs)


def test_json_follows_no_redirect_and_names_it_masked(
    cli: Any, writeback_hostile_factory: Any
) -> None:
    away = writeback_hostile_factory(
        {"POST": Redirect("https://user:pw-9@hooks.example.com:8443/in?sig=abc", 302)}
    )
    near = writeback_hostile_factory({"POST": Redirect("/moved/here?x=1", 308)})
    rows = [webhook_row("away", away.url), webhook_row("near", near.url)]
    cli("connectors", "add", cli.file(rows))
    cli("dispatch", cli.file(appointment_event("create", "G1")))
    cli("worker", "--until-idle")
    done = deliveries_by_connector(cli)
    assert {d["status"] for d in done.values()} == {"dead"}
    assert {d["attempts"] for d in done.values()} == {1}  # failed, not retried
    away_error = done["away"]["last_error"]
    assert "HTTP 302: redirected to https://hooks.example.com:8443/in?…" in away_error
    assert "pw-9" not in away_error and "sig=abc" not in away_error
    assert f"HTTP 308: redirected to {near.url}/moved/here?…" in done["near"]["last_error"]


def test_connectors_test_is_not_ok_for_a_redirect_a_5xx_or_refused_credentials(
    cli: Any, writeback_hostile_factory: Any
) -> None:
    login = writeback_hostile_factory({"*": Answer(200, b"<html>sign in</html>")})
    servers = {
        "hook-307": writeback_hostile_factory({"*": Redirect(f"{login.url}/sign-in")}),
        "hook-500": writeback_hostile_factory({"*": Answer(500, b"down")}),
        "hook-403": writeback_hostile_factory({"*": Answer(403, b"no")}),
        "hook-405": writeback_hostile_factory({"HEAD": Answer(405, b"")}),
        "bc-302": writeback_hostile_factory({"GET": Redirect(f"{login.url}/sign-in", 302)}),
        "bc-404": writeback_hostile_factory({"GET": Answer(404, b"no such page")}),
        "soap-302": writeback_hostile_factory({"GET": Redirect(f"{login.url}/sign-in", 302)}),
    }
    bc = {"name": "bc", "type": "bc", "api_type": "json", "source_app": "CRONUSUS"}
    rows = [
        *(webhook_row(name, servers[name].url) for name in servers if name.startswith("hook")),
        *(
            {**bc, "name": name, "uri": servers[name].url + "/api/appointments", "auth": BASIC}
            for name in ("bc-302", "bc-404")
        ),
        soap_row("soap-302", servers["soap-302"].url + "/BC/WS/Page/Appointment", BASIC)
        | {"options": {"allow_insecure_http": True}},
    ]
    cli("connectors", "add", cli.file(rows))
    assert "ok: hook-405" in cli("connectors", "test", "hook-405").stdout
    failed = {
        name: cli("connectors", "test", name, check=1).stderr
        for name in servers
        if name != "hook-405"
    }
    assert f"redirected to {login.url}/sign-in" in failed["hook-307"]
    assert f"redirected to {login.url}/sign-in" in failed["bc-302"]
    assert f"redirected to {login.url}/sign-in" in failed["soap-302"]
    assert "HTTP 500" in failed["hook-500"]
    assert "credentials were refused (HTTP 403)" in failed["hook-403"]
    assert "HTTP 404" in failed["bc-404"]
    assert login.requests == []  # nothing followed a redirect
