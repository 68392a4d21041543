"""The demo runs green, and each distribution declares only what it needs.

The dependency checks follow requirements transitively: the repository's own
distributions from their ``pyproject.toml``, everything else from the installed
metadata, so "webhook + oauth2 pulls no zeep" holds for what pip would really
install, not only for what we wrote down.
"""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from rich.console import Console
from writeback_testing.demo import BASIC, ENTRA_SECRET, OAUTH2_SECRET, SIGNING_SECRET, run_demo
from writeback_testing.demo_backoffice import SECRETS, kerberos_unavailable_reason
from writeback_testing.services import service_unavailable

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = [
    "core",
    *sorted(str(p.parent.relative_to(ROOT)) for p in ROOT.glob("plugins/*/pyproject.toml")),
]
HEAVY = {"zeep", "msal", "authlib", "requests-ntlm", "pyspnego", "gssapi", "krb5", "requests"}
DEMO_SECRETS = (*SECRETS, BASIC[1], OAUTH2_SECRET, ENTRA_SECRET, SIGNING_SECRET)

BC_LINES = (
    "bc-api: 3 staging rows, databaseAction per appointment B-0: D; B-1: I, U; "
    "OAuth2 client writeback-bc, 1 token request(s)",
    "bc-soap: 3 SOAP Create records, Database_Action per appointment B-0: D; B-1: I, U; "
    "NTLM as CRONUS\\WEBUSER, 1 WSDL fetch(es)",
    "coalescing (on by default for bc and nav): 3 deliveries superseded on bc-api, 3 on "
    "bc-soap: B-1's first update gave way to the second (BC got 'Heat pump service (10:00)')",
)
NAV_LINE = "nav-soap: 3 SOAP Create records, Database_Action per appointment N-0: D; N-1: I, U; "
NAV_KERBEROS = "Negotiate (kerberos inside) as planner@WRITEBACK.TEST"
NAV_NTLM = "Negotiate (ntlm inside) as CRONUS\\NAVUSER"


def assert_demo_output(text: str, *, kerberos: bool) -> None:
    assert "dispatched 16 events -> 30 deliveries; no connector for demo-016" in text
    assert "signatures valid: True" in text
    assert "(2 answered 503)" in text
    assert (
        "tokens: ops-oauth2 got 4 deliveries with 1 token request(s); "
        "field-entra got 2 with 1 (over TLS, test CA)"
    ) in text
    # 30 deliveries: 6 superseded by coalescing (3 per BC connector), the rest delivered.
    assert len(re.findall(r"│ superseded +│", text)) == 6
    assert len(re.findall(r"│ delivered +│", text)) == 24
    for line in BC_LINES:
        assert line in text
    nav = text[text.index(NAV_LINE) :].splitlines()[0]
    assert (NAV_KERBEROS if kerberos else NAV_NTLM) in nav
    if kerberos:
        assert "Kerberos available here: NAV gets a ticket for planner@WRITEBACK.TEST" in text
    else:
        assert "Kerberos not available here (" in text
        assert "; NAV uses NTLM inside Negotiate as CRONUS\\NAVUSER" in text
    for secret in DEMO_SECRETS:
        assert secret not in text


def test_demo_delivers_everything(tmp_path):
    # Kerberos when this machine can (always in CI, which installs the KDC), else NTLM.
    reason = kerberos_unavailable_reason()
    if reason and os.environ.get("CI"):
        pytest.fail(f"the demo cannot use Kerberos in CI: {reason}")
    proc = subprocess.run(
        [sys.executable, "-m", "writeback", "--db", f"sqlite:///{tmp_path}/demo.db", "demo"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "400"},
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert_demo_output(proc.stdout, kerberos=reason is None)
    for secret in DEMO_SECRETS:
        assert secret not in proc.stderr


@pytest.mark.parametrize("kerberos", [False, True], ids=["ntlm-fallback", "kerberos"])
def test_demo_chooses_nav_auth_and_restores_the_environment(tmp_path, kerberos):
    if kerberos and (reason := kerberos_unavailable_reason()):
        service_unavailable(reason)
    before = dict(os.environ)
    out, err = io.StringIO(), io.StringIO()
    code = run_demo(
        f"sqlite:///{tmp_path}/demo.db",
        out=Console(file=out, width=400),
        err=Console(file=err, width=400),
        kerberos=None if kerberos else False,
    )
    assert code == 0, out.getvalue() + err.getvalue()
    assert_demo_output(out.getvalue(), kerberos=kerberos)
    if not kerberos:
        assert "Kerberos not available here (turned off for this run)" in out.getvalue()
    # KRB5_CONFIG & co., NTLM_USER_FILE, the CA bundle variables: all as they were.
    assert dict(os.environ) == before


# -- packaging ------------------------------------------------------------------------


def _project(folder: str) -> dict:
    return tomllib.loads((ROOT / folder / "pyproject.toml").read_text())["project"]


LOCAL = {canonicalize_name(_project(f)["name"]): f for f in FOLDERS}


def _requirements(name: str, extras: frozenset[str] = frozenset()) -> list[Requirement]:
    """What ``name[extras]`` requires, markers evaluated here, extras' own included."""
    if name in LOCAL:
        project = _project(LOCAL[name])
        declared = [Requirement(r) for r in project.get("dependencies", [])]
        for extra in extras:
            declared += [Requirement(r) for r in project["optional-dependencies"][extra]]
        return [r for r in declared if r.marker is None or r.marker.evaluate({"extra": ""})]
    found = []
    for text in metadata.requires(name) or []:
        req = Requirement(text)
        if req.marker is None or any(req.marker.evaluate({"extra": e}) for e in {"", *extras}):
            found.append(req)
    return found


def closure(*dists: str) -> set[str]:
    """Every distribution ``pip install DISTS`` brings (names canonical, extras followed)."""
    seen: set[tuple[str, frozenset[str]]] = set()
    todo = [Requirement(d) for d in dists]
    while todo:
        req = todo.pop()
        key = (canonicalize_name(req.name), frozenset(req.extras))
        if key not in seen:
            seen.add(key)
            todo += _requirements(*key)
    return {name for name, _ in seen}


def declared(folder: str) -> set[str]:
    return {canonicalize_name(Requirement(r).name) for r in _project(folder)["dependencies"]}


def test_integrator_install_set_pulls_no_heavy_protocol_library():
    installed = closure("writeback-webhook", "writeback-auth-basic")
    assert {"writeback", "writeback-json", "httpx"} <= installed
    assert installed & HEAVY == set()


def test_webhook_with_oauth2_pulls_no_soap_entra_or_windows_library():
    # authlib is what oauth2 is made of; requests is only its [requests] extra.
    installed = closure("writeback-webhook", "writeback-auth-oauth2")
    assert "authlib" in installed and installed & (HEAVY - {"authlib"}) == set()
    assert "requests" in closure("writeback-auth-oauth2[requests]")


def test_entra_brings_msal_and_nothing_of_soap_windows_or_authlib():
    installed = closure("writeback-auth-entra")
    assert {"msal", "requests"} <= installed
    assert installed.isdisjoint({"zeep", "authlib", "requests-ntlm", "pyspnego", "gssapi"})


def test_soap_declares_zeep_and_requests_and_nothing_of_auth():
    assert declared("plugins/format_soap") == {"writeback", "zeep", "requests"}
    installed = closure("writeback-soap")
    assert installed.isdisjoint({"msal", "authlib", "requests-ntlm", "pyspnego", "gssapi"})


def test_bc_and_nav_depend_on_no_format_or_auth_library():
    # A row chooses its format; validation names the distribution it is missing.
    assert declared("plugins/bc") == {"writeback"}
    assert declared("plugins/nav") == {"writeback", "writeback-bc"}
    assert closure("writeback-nav") & (HEAVY | {"httpx"}) == set()
    assert "writeback-bc" in closure("writeback-nav")


def test_windows_auth_brings_ntlm_and_negotiate_and_kerberos_only_with_its_extra():
    assert declared("plugins/auth_windows") == {
        "writeback",
        "requests",
        "requests-ntlm",
        "pyspnego",
    }
    plain = closure("writeback-auth-windows")
    assert plain.isdisjoint({"gssapi", "krb5", "zeep", "msal", "authlib", "httpx"})
    assert {"gssapi", "krb5"} <= closure("writeback-auth-windows[kerberos]")


def test_bc_on_premises_over_soap_with_ntlm_needs_no_token_or_httpx_library():
    installed = closure("writeback-bc", "writeback-soap", "writeback-auth-windows")
    assert {"zeep", "requests-ntlm", "pyspnego"} <= installed
    assert installed.isdisjoint({"msal", "authlib", "httpx", "gssapi"})


def test_core_depends_on_nothing_protocol_specific():
    assert declared("core").isdisjoint({"httpx", *HEAVY})
    assert {"pluggy", "pydantic", "sqlalchemy"} <= declared("core")


def test_every_plugin_declares_its_entry_point_in_group_writeback():
    expected = {
        "plugins/format_json": "json",
        "plugins/format_soap": "soap",
        "plugins/webhook": "webhook",
        "plugins/bc": "bc",
        "plugins/nav": "nav",
        "plugins/auth_basic": "basic",
        "plugins/auth_windows": "windows",
        "plugins/auth_oauth2": "oauth2",
        "plugins/auth_entra": "entra",
    }
    assert set(expected) == set(FOLDERS) - {"core"}
    for folder, name in expected.items():
        assert name in _project(folder)["entry-points"]["writeback"], folder


def test_readme_lists_every_distribution():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    names = [_project(f)["name"] for f in [*FOLDERS, "testing"]]
    assert [n for n in names if f"`{n}`" not in readme] == []
    assert "pip install 'writeback-auth-windows[kerberos]'" in readme


def test_demo_says_why_kerberos_is_not_available(monkeypatch):
    import importlib.util

    import writeback_testing.kdc as kdc

    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(kdc, "_which", lambda p: None if p == "krb5kdc" else "/usr/sbin/" + p)
    assert kerberos_unavailable_reason() == "no krb5kdc: install krb5-kdc and krb5-admin-server"
    monkeypatch.setattr(kdc, "_which", lambda p: "/usr/sbin/" + p)
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda m: None if m == "gssapi" else real_find_spec(m)
    )
    assert kerberos_unavailable_reason() == (
        "no gssapi Python package: pip install 'writeback-auth-windows[kerberos]', "
        "which needs libkrb5-dev"
    )
