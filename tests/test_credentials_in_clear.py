"""A credential never travels in clear over http:// to another host, whatever the type."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import Cli, webhook_row

BASIC = {"method": "basic", "username": "ops", "password": "s3cret-Pa55!"}


def basic_row(uri: str, **options: Any) -> dict[str, Any]:
    return webhook_row("ops", uri, auth=BASIC, options=options)


def test_a_webhook_with_basic_over_http_is_refused_in_one_sentence(cli: Cli) -> None:
    path = cli.file(basic_row("http://bo.example.com/hooks/ops"))
    run = cli("connectors", "validate", path, check=2)
    assert "Traceback" not in run.stderr
    assert run.stderr.count("would send the credentials in clear over http://") == 1
    assert (
        "uri 'http://bo.example.com/hooks/ops': auth.method 'basic' would send the credentials "
        "in clear over http://; use an https:// uri, or set options.allow_insecure_http: true "
        "if the network between is trusted."
    ) in run.stderr
    assert BASIC["password"] not in run.stdout + run.stderr


def test_the_consent_lets_it_through(cli: Cli) -> None:
    path = cli.file(basic_row("http://bo.example.com/hooks/ops", allow_insecure_http=True))
    assert "valid: 1 connector(s): ops" in cli("connectors", "validate", path).stdout


@pytest.mark.parametrize(
    "uri",
    [
        "http://127.0.0.1:8080/hooks/ops",
        "http://127.9.9.9/h",
        "http://[::1]:8080/h",
        "http://localhost/h",
    ],
)
def test_loopback_never_crosses_a_network(cli: Cli, uri: str) -> None:
    assert (
        "valid: 1 connector(s): ops"
        in cli("connectors", "validate", cli.file(basic_row(uri))).stdout
    )


def test_https_and_unauthenticated_rows_are_untouched(cli: Cli) -> None:
    rows = [
        basic_row("https://bo.example.com/hooks/ops"),
        webhook_row("open", "http://bo.example.com/hooks/open"),
    ]
    assert "valid: 2 connector(s)" in cli("connectors", "validate", cli.file(rows)).stdout
