"""The support matrix, the whole table, through ``writeback connectors validate``.

Every (type and deployment, api_type, auth method) is validated by the
real CLI (in process, for speed) with every plugin installed: allowed rows exit
0 (basic and soap on BC online with their warnings), refused rows exit 2 with
exactly the sentence that names the field, the value and what is allowed.  The table is
docs/connectors.md, "The support matrix".
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from writeback.cli import main

API = "/api/dimeSoftware/dimeScheduler/v1.0/companies(4f1c0000-0000-4000-8000-000000000001)"
#: (row type, label in messages, {api_type: uri})
TARGETS: dict[str, tuple[str, str, dict[str, str]]] = {
    "bc-onprem": (
        "bc",
        "type 'bc' (on-premises)",
        {
            "json": f"https://bc.example.com:7048/BC{API}/appointments",
            "soap": "https://bc.example.com:7047/BC/WS/CRONUS/Page/Appointment",
        },
    ),
    "bc-online": (
        "bc",
        "type 'bc' (online)",
        {
            "json": f"https://api.businesscentral.dynamics.com/v2.0/t1/Production{API}/appointments",
            "soap": "https://api.businesscentral.dynamics.com/v2.0/t1/Production/WS/CRONUS/Page/Appointment",
        },
    ),
    "nav": (
        "nav",
        "type 'nav'",
        {
            "json": "https://nav.example.com:7048/NAV/api/x",
            "soap": "https://nav.example.com:7047/DynamicsNAV110/WS/CRONUS/Page/Appointment",
        },
    ),
    "webhook": (
        "webhook",
        "type 'webhook'",
        {"json": "https://hooks.example.com/a", "soap": "https://hooks.example.com/a"},
    ),
}

#: docs/connectors.md's support matrix, written out: (target, api_type) -> allowed
#: methods in the order printed; a missing pair means the type does not speak that
#: format.
ALLOWED: dict[tuple[str, str], tuple[str, ...]] = {
    ("bc-onprem", "soap"): ("basic", "windows", "ntlm", "entra", "oauth2"),
    ("bc-onprem", "json"): ("basic", "entra", "oauth2"),
    ("bc-online", "soap"): ("basic", "entra", "oauth2"),
    ("bc-online", "json"): ("basic", "entra", "oauth2"),
    ("nav", "soap"): ("basic", "windows", "ntlm"),
    ("webhook", "json"): ("none", "basic", "entra", "oauth2"),
}
FORMATS = {"bc": "json, soap", "nav": "soap", "webhook": "json"}
METHODS = ("none", "basic", "windows", "ntlm", "entra", "oauth2")

AUTH: dict[str, dict[str, Any]] = {
    "none": {},
    "basic": {"username": "WEBUSER", "password": "s3cret-basic"},
    # DOMAIN\user: a user@REALM name draws a warning where Kerberos support is not
    # installed (tests/test_kerberos_missing_cli.py), which would make this depend on it.
    "windows": {"username": "CRONUS\\planner", "password": "s3cret-windows"},
    "ntlm": {"username": "CRONUS\\planner", "password": "s3cret-ntlm"},
    "entra": {
        "tenant_id": "contoso",
        "client_id": "wb",
        "client_secret": "s3cret-entra",
        "scope": "api://bc/.default",
    },
    "oauth2": {
        "token_url": "https://login.example.com/token",
        "client_id": "wb",
        "client_secret": "s3cret-oauth2",
    },
}


def validate(
    rows: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> tuple[int, str, str]:
    path = tmp_path / "rows.json"
    path.write_text(json.dumps(rows))
    monkeypatch.setattr(
        sys,
        "argv",
        ["writeback", "--db", f"sqlite:///{tmp_path}/m.db", "connectors", "validate", str(path)],
    )
    code = 0
    try:
        main()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def row(target: str, api_type: str, method: str, **extra: Any) -> dict[str, Any]:
    type_, _, uris = TARGETS[target]
    return {
        "name": f"{target}-{api_type}-{method}",
        "type": type_,
        "api_type": api_type,
        "uri": uris[api_type],
        "source_app": "CRONUSUS",
        "auth": {"method": method, **AUTH[method]},
        **extra,
    }


CASES = [(t, f, m) for t in TARGETS for f in ("json", "soap") for m in METHODS]


@pytest.mark.parametrize(("target", "api_type", "method"), CASES, ids=["-".join(c) for c in CASES])
def test_matrix(target, api_type, method, tmp_path, monkeypatch, capsys) -> None:
    type_, where, _ = TARGETS[target]
    code, out, err = validate(row(target, api_type, method), tmp_path, monkeypatch, capsys)
    allowed = ALLOWED.get((target, api_type))
    name = f"{target}-{api_type}-{method}"
    assert "Traceback" not in out + err
    assert "s3cret" not in out + err
    if allowed is not None and method in allowed:
        assert code == 0, err
        assert out.strip() == f"valid: 1 connector(s): {name}"
        expected = []
        if target == "bc-online" and method == "basic":
            expected.append(
                f"warning: connector '{name}': basic authentication on Business Central online: "
                "Microsoft retired Basic (web service access keys) online in 2022, so expect "
                "401; use auth.method 'entra'."
            )
        if target == "bc-online" and api_type == "soap":
            # The deprecation (tests/test_soap_deprecation_cli.py has its wording).
            expected.append(
                f"warning: connector '{name}': api_type 'soap' on Business Central online: "
            )
        lines = err.splitlines()
        assert len(lines) == len(expected), err
        for line, start in zip(lines, expected, strict=True):
            assert line.startswith(start), line
        return
    if allowed is None:
        expected = (
            f"api_type '{api_type}' is not supported by type '{type_}'; allowed: {FORMATS[type_]}."
        )
    else:
        expected = (
            f"auth.method '{method}' is not allowed for {where} with api_type '{api_type}'; "
            f"allowed: {', '.join(allowed)}."
        )
    assert code == 2, out
    assert err.splitlines() == [
        "error: WB-101: 1 problem(s):",
        f"  - connector '{name}': {expected}",
    ]


def test_deployment_option_overrides_the_host(tmp_path, monkeypatch, capsys) -> None:
    online = row("bc-onprem", "json", "basic", options={"deployment": "cloud"})
    code, _, err = validate(online, tmp_path, monkeypatch, capsys)
    assert code == 0 and "retired Basic" in err
    onprem_ntlm = row("bc-online", "soap", "ntlm", options={"deployment": "onprem"})
    code, _, err = validate(onprem_ntlm, tmp_path, monkeypatch, capsys)
    assert code == 0 and "warning" not in err
    cloud_ntlm = row("bc-onprem", "soap", "ntlm", options={"deployment": "cloud"})
    code, _, err = validate(cloud_ntlm, tmp_path, monkeypatch, capsys)
    assert code == 2
    assert "auth.method 'ntlm' is not allowed for type 'bc' (online) with api_type 'soap'" in err


@pytest.mark.parametrize("method", ["basic", "entra", "oauth2", "windows", "ntlm"])
def test_soap_over_plain_http_sends_no_credentials_in_clear(method, tmp_path, monkeypatch, capsys):
    plain = row(
        "bc-onprem", "soap", method, uri="http://bc.example.com:7047/BC/WS/CRONUS/Page/Appointment"
    )
    code, _, err = validate(plain, tmp_path, monkeypatch, capsys)
    if method in ("windows", "ntlm"):  # the password never travels
        assert code == 0, err
        return
    assert code == 2 and "would send the credentials in clear over http://" in err
    assert "options.allow_insecure_http: true" in err
    code, _, err = validate(
        {**plain, "options": {"allow_insecure_http": True}}, tmp_path, monkeypatch, capsys
    )
    assert code == 0, err
