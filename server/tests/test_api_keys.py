"""``writeback api-keys`` and the service's 401/403: keys shown once, kept as hashes."""

from __future__ import annotations

import json
import sqlite3

import pytest


def test_a_key_is_shown_once_and_only_its_hash_is_stored(make_service) -> None:
    service = make_service()
    key = service.make_key("planning", "ingest")
    assert key.startswith("wbk_") and len(key) > 40
    listed = service.cli("api-keys", "list", "--json").stdout
    (entry,) = json.loads(listed)
    assert entry["name"] == "planning" and entry["scope"] == "ingest" and entry["active"]
    assert key not in listed and key not in service.cli("api-keys", "list").stdout
    raw = (service.folder / "writeback.db").read_bytes()
    assert key.encode() not in raw and key[4:].encode() not in raw
    with sqlite3.connect(service.folder / "writeback.db") as db:
        (stored,) = db.execute("SELECT key_hash FROM api_keys").fetchone()
    assert len(stored) == 64 and stored not in key


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["create", "x", "--scope", "root"], "--scope 'root' is not a scope"),
        (["create", "bad name", "--scope", "read"], "is not allowed"),
        (["revoke", "nobody"], "no API key is named 'nobody'"),
    ],
)
def test_bad_key_commands_say_why_and_exit_2(make_service, args, says) -> None:
    service = make_service()
    run = service.cli("api-keys", *args, check=2)
    assert says in run.stderr and "Traceback" not in run.stderr


def test_a_name_is_taken_once(make_service) -> None:
    service = make_service()
    service.make_key("ops", "read")
    run = service.cli("api-keys", "create", "ops", "--scope", "admin", check=2)
    assert "exists already" in run.stderr


def test_scopes_401_403_and_revocation_over_http(service, h) -> None:
    get = service.client.get
    no_key = get("/v1/deliveries")
    assert no_key.status_code == 401 and no_key.json()["error"]["code"] == "WB-901"
    assert "WWW-Authenticate" in no_key.headers
    unknown = get("/v1/deliveries", headers=h.bearer("wbk_" + "x" * 43))
    assert unknown.status_code == 401
    assert get("/v1/deliveries", headers={"Authorization": "Token abc"}).status_code == 401
    assert get("/v1/deliveries", headers={"Authorization": "Basic !!!"}).status_code == 401
    # ingest may only post events; read may read; admin everything.
    ingest, read, admin = (service.keys[s] for s in ("ingest", "read", "admin"))
    refused = get("/v1/deliveries", headers=h.bearer(ingest))
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "WB-902"
    assert ingest not in refused.text
    assert get("/v1/deliveries", headers=h.bearer(read)).status_code == 200
    assert get("/v1/deliveries", headers=h.basic(read)).status_code == 200
    assert get("/v1/stats", headers=h.bearer(admin)).status_code == 200
    assert service.post_events([], read).status_code == 403
    assert service.client.post("/v1/connectors/x/pause", headers=h.bearer(read)).status_code == 403
    # Revoked: refused from the next request on.
    extra = service.make_key("short-lived", "read")
    assert get("/v1/stats", headers=h.bearer(extra)).status_code == 200
    service.cli("api-keys", "revoke", "short-lived")
    assert get("/v1/stats", headers=h.bearer(extra)).status_code == 401
    (entry,) = [
        k
        for k in json.loads(service.cli("api-keys", "list", "--json").stdout)
        if k["name"] == "short-lived"
    ]
    assert entry["active"] is False and entry["last_used_at"] is not None
