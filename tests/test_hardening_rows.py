"""Hostile connector rows through the real CLI: numbers finite and bounded, URIs
that can be sent, env: references that name a variable, bounded files and
messages, and credentials in a URI refused (and masked where old rows print)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from .conftest import Cli, Run, appointment_event, webhook_row

NAN = float("nan")
INF = float("inf")


def assert_refused(run: Run, *needles: str) -> None:
    """Exit 2 with WB-101/WB-109 sentences naming what is wrong, no traceback."""
    assert run.code == 2, (run.stdout, run.stderr)
    assert "Traceback" not in run.stdout + run.stderr, run.stderr
    assert run.stderr.startswith("error: WB-1"), run.stderr
    for needle in needles:
        assert needle in run.stderr, run.stderr


def add_refused(cli: Cli, data: Any, *needles: str, suffix: str = ".json") -> Run:
    """``connectors add`` refuses the file and stores nothing; ``validate`` agrees."""
    path = cli.file(data, suffix)
    run = cli("connectors", "add", path, check=None)
    assert_refused(run, *needles)
    assert cli("connectors", "list", "--json").json() == []
    assert_refused(cli("connectors", "validate", path, check=None), *needles)
    return run


def row(**changes: Any) -> dict[str, Any]:
    return {**webhook_row("hook", "http://127.0.0.1:9/h"), **changes}


def bc_row(**options: Any) -> dict[str, Any]:
    return {
        "name": "bc",
        "type": "bc",
        "uri": "https://bc.example.com:7048/BC/api/v1.0/companies(1)/appointments",
        "api_type": "json",
        "source_app": "CRONUSUS",
        "auth": {"method": "basic", "username": "u", "password": "env:BC_PASSWORD"},
        "options": options,
    }


# -- item 1: numbers finite and bounded ------------------------------------------

NUMBER_CASES = [
    (row(retry={"schedule": [5, 1.7e308]}), "retry.schedule[1] is 1.7e+308", "86400"),
    (row(retry={"schedule": [NAN]}), "retry.schedule[0] is nan", "finite number"),
    (row(retry={"schedule": [INF, 5]}), "retry.schedule[0] is inf", "finite number"),
    (row(retry={"schedule": [86400.5]}), "retry.schedule[0] is 86400.5", "86400"),
    (row(retry={"schedule": [True]}), "retry.schedule[0] is True", "86400"),
    (row(throttle={"max_concurrency": NAN}), "throttle.max_concurrency", "finite number"),
    (row(throttle={"rate": "10/0.0000001s"}), "throttle.rate", "86400"),
    (row(throttle={"rate": "99999999999/1s"}), "throttle.rate", "1000000"),
    (row(throttle={"rate": "1/" + "9" * 400 + "s"}), "throttle.rate", "…"),
    (row(options={"timeout": NAN}), "options.timeout is nan", "finite number"),
    (row(options={"timeout": INF}), "options.timeout is inf", "finite number"),
    (bc_row(timeout=NAN), "options.timeout is nan", "finite number"),
    (bc_row(timeout=-INF), "options.timeout is -inf", "finite number"),
]


@pytest.mark.parametrize(("data", "field", "allowed"), NUMBER_CASES)
def test_numbers_in_a_row_are_finite_and_bounded(
    cli: Cli, data: dict[str, Any], field: str, allowed: str
) -> None:
    add_refused(cli, data, field, allowed)


def test_the_largest_wait_is_accepted(cli: Cli) -> None:
    cli("connectors", "add", cli.file(row(retry={"schedule": [0, 86400]})))


# -- item 13: deep nesting and huge integers in rows -----------------------------


def test_a_row_integer_of_5000_digits_in_json_is_one_sentence(cli: Cli) -> None:
    text = json.dumps(row(throttle={"max_concurrency": 7})).replace(": 7}", ": " + "9" * 5000 + "}")
    add_refused(cli, text, "integer of 5000 digits", "64 bits")


def test_a_row_integer_of_5000_digits_in_yaml_is_one_sentence(cli: Cli) -> None:
    text = "name: hook\ntype: webhook\nuri: http://127.0.0.1:9/h\napi_type: json\n"
    text += "source_app: APP\nthrottle: {max_concurrency: " + "9" * 5000 + "}\n"
    add_refused(cli, text, "integer of 5000 digits", "line 6", suffix=".yaml")


def test_a_row_integer_beyond_64_bits_names_the_field(cli: Cli) -> None:
    add_refused(cli, row(retry={"schedule": [10**30]}), "retry.schedule[0]", "64 bits")


@pytest.mark.parametrize("suffix", [".json", ".yaml"])
def test_a_row_nested_100000_deep_is_one_sentence(cli: Cli, suffix: str) -> None:
    deep = "[" * 100_000 + "]" * 100_000
    text = json.dumps(row(options={"payload": "DEEP"})).replace('"DEEP"', deep)
    add_refused(cli, text, "nested more than 64 levels deep", suffix=suffix)


# -- item 7: alias bombs, bounded files and bounded quotes -----------------------


def alias_bomb(levels: int) -> str:
    """A connector row whose name is ``levels`` lists of nine aliases deep."""
    lines = ['l0: &l0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for n in range(1, levels + 1):
        lines.append(f"l{n}: &l{n} [" + ",".join([f"*l{n - 1}"] * 9) + "]")
    lines.append(f"name: *l{levels}")
    return "\n".join([*lines, "type: webhook", "uri: http://127.0.0.1:9/h", "api_type: json"])


@pytest.mark.parametrize("levels", [7, 9])
def test_a_yaml_alias_bomb_is_refused(cli: Cli, levels: int) -> None:
    add_refused(cli, alias_bomb(levels), "YAML aliases", "100000 values", suffix=".yaml")


def test_a_self_referring_yaml_alias_is_refused(cli: Cli) -> None:
    add_refused(cli, "name: &a [*a]\ntype: webhook\n", "inside its own anchor", suffix=".yaml")


def test_yaml_aliases_that_expand_a_little_are_fine(cli: Cli) -> None:
    text = (
        "- {<<: &d {type: webhook, uri: 'http://127.0.0.1:9/h', api_type: json, "
        "source_app: APP}, name: a}\n- {<<: *d, name: b}\n"
    )
    path = cli.file(text, ".yaml")
    assert "valid: 2 connector(s): a, b" in cli("connectors", "validate", path).stdout


def test_a_connector_file_over_the_limit_is_refused(cli: Cli) -> None:
    text = json.dumps(row())
    text += " " * (1024 * 1024 + 1 - len(text))
    add_refused(cli, text, "larger than 1 MiB")


@pytest.mark.parametrize(
    "data",
    [
        row(uri="http://" + "a" * 100_000 + ".example/h"),
        row(type="x" * 100_000),
        row(api_type="x" * 100_000),
        row(throttle={"rate": "1/" + "1" * 100_000 + "s"}),
        row(name=["x" * 100] * 10_000),
        row(crud_types=["x" * 10_000] * 50),
    ],
    ids=["uri", "type", "api_type", "rate", "name", "crud_types"],
)
def test_a_value_quoted_in_an_error_is_cut_short(cli: Cli, data: dict[str, Any]) -> None:
    run = add_refused(cli, data, "…")
    assert max(len(line) for line in run.stderr.splitlines()) < 400, run.stderr


# -- item 15: URIs that cannot be sent, env: references that name nothing --------


@pytest.mark.parametrize(
    ("uri", "needle"),
    [
        ("http://127.0.0.1:99999/h", "port"),
        ("http://127.0.0.1:0/h", "port"),
        ("http://127.0.0.1:9/h\r\nX-Injected: 1", "control character or space"),
        ("http://127.0.0.1:9/a b", "control character or space"),
        ("http://127.0.0.1:9/h\t", "control character or space"),
        ("http://127.0.0.1:9/h\x7f", "control character or space"),
        ("http://127.0.0.1:9/h\u2028", "control character or space"),
        ("http://exa<mple.com/h", "host"),
        ("http://[::1/h", "not an http:// or https:// address"),
    ],
)
def test_a_uri_that_cannot_be_sent_is_refused_at_validation(
    cli: Cli, uri: str, needle: str
) -> None:
    run = add_refused(cli, row(uri=uri), "uri", needle)
    assert "X-Injected: 1" not in run.stderr.splitlines()[0]


@pytest.mark.parametrize("reference", ["env:", "env:A B", "env:=x", "env:1ABC", "env:A-B"])
def test_an_env_reference_must_name_a_variable(cli: Cli, reference: str) -> None:
    data = row(auth={"method": "basic", "username": "u", "password": reference})
    add_refused(cli, data, "auth.password", "env:NAME")


def test_an_env_reference_in_a_plugin_secret_must_name_a_variable(cli: Cli) -> None:
    data = bc_row()
    data["auth"]["password"] = "env:BAD NAME"
    add_refused(cli, data, "auth.password", "env:NAME")


@pytest.mark.parametrize(
    ("url", "needle"),
    [
        ("https://login.example:99999/token", "port"),
        ("https://login.example/token\r\nX: 1", "control character or space"),
        ("https://wb:pw-s3cret@login.example/token", "user name or password"),
    ],
)
def test_a_token_url_that_cannot_be_used_is_refused(cli: Cli, url: str, needle: str) -> None:
    auth = {"method": "oauth2", "token_url": url, "client_id": "wb", "client_secret": "env:S"}
    run = add_refused(cli, row(auth=auth), "auth.token_url", needle)
    assert "pw-s3cret" not in run.stderr


# -- item 9: credentials in the URI ----------------------------------------------


def test_user_info_in_the_uri_is_refused_and_not_echoed(cli: Cli) -> None:
    run = add_refused(cli, row(uri="https://alice:pw-s3cret@127.0.0.1:9/h"), "uri", "auth")
    assert "pw-s3cret" not in run.stderr and "alice" not in run.stderr


def test_a_token_in_the_query_is_stored_but_printed_masked(
    cli: Cli, writeback_receiver_factory: Any
) -> None:
    receiver = writeback_receiver_factory()
    uri = f"{receiver.url}?Token=tok-s3cret&sig=sig-s3cret&page=2"
    cli("connectors", "add", cli.file(webhook_row("hook", uri)))
    cli("dispatch", cli.file(appointment_event("create", "G-1")))
    cli("-vv", "worker", "--until-idle")
    assert receiver.wait_for(1)[0].path.endswith("page=2")
    for args in (["list"], ["list", "--json"], ["show", "hook"], ["show", "hook", "--json"]):
        cli("connectors", *args)
    assert "Token=***&sig=***&page=2" in cli("connectors", "show", "hook", "--json").stdout
    assert not [o for o in cli.outputs if "s3cret" in o]


def test_an_old_row_with_user_info_prints_masked_and_goes_dead_masked(
    cli: Cli, writeback_receiver_factory: Any
) -> None:
    """A row stored before user-info was refused: never printed, never sent."""
    from writeback import Dispatcher

    receiver = writeback_receiver_factory()
    old_uri = receiver.url.replace("://", "://alice:pw-s3cret@") + "?access_token=tok-s3cret"
    with Dispatcher.open(cli.db_url) as wb:
        valid = wb.connectors.validate(webhook_row("old", receiver.url))
        old = dataclasses.replace(valid, row=valid.row.model_copy(update={"uri": old_uri}))
        wb.store.connectors.add([old])
    listed = cli("connectors", "list", "--json").json()
    assert listed[0]["uri"].startswith("http://***@127.0.0.1:")
    assert listed[0]["uri"].endswith("?access_token=***")
    cli("connectors", "list")
    cli("connectors", "show", "old")
    cli("connectors", "show", "old", "--json")
    cli("-vv", "dispatch", cli.file(appointment_event("create", "G-1")), "--wait", check=1)
    shown = cli("deliveries", "list", "--json").json()
    assert shown[0]["status"] == "dead" and "auth" in shown[0]["last_error"]
    assert receiver.requests == []
    assert not [o for o in cli.outputs if "s3cret" in o or "alice" in o]


def test_masking_keeps_the_rest_of_the_uri(tmp_path: Path) -> None:
    from writeback.plugin import mask_uri

    assert mask_uri("https://h.example/p?a=1&api_key=k&code=c#frag") == (
        "https://h.example/p?a=1&api_key=***&code=***#frag"
    )
    assert mask_uri("https://u:p@h/x") == "https://***@h/x"
    assert mask_uri("not a uri at all") == "not a uri at all"


def test_a_secret_in_a_token_url_query_prints_masked(cli: Cli) -> None:
    url = "https://login.example/token?api_key=key-s3cret&tenant=t1"
    auth = {"method": "oauth2", "token_url": url, "client_id": "wb", "client_secret": "env:S"}
    cli("connectors", "add", cli.file(row(auth=auth)))
    shown = cli("connectors", "show", "hook", "--json").json()
    assert shown["auth"]["token_url"] == "https://login.example/token?api_key=***&tenant=t1"
    cli("connectors", "show", "hook")
    assert not [o for o in cli.outputs if "key-s3cret" in o]
