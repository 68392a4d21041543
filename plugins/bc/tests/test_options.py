"""Options and deployment: bad input is one sentence naming the field; the variant is chosen."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from writeback import InvalidConnectorError
from writeback.plugin import PluginRegistry, validate_connector

from .conftest import ONLINE_JSON, ONPREM_JSON

Row = Callable[..., dict[str, Any]]


def refused(row: dict[str, Any], registry: PluginRegistry) -> list[str]:
    with pytest.raises(InvalidConnectorError) as caught:
        validate_connector(row, registry)
    return caught.value.problems


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (
            {"fields": {"subjekt": "description"}},
            "options.fields: 'subjekt' is not a row field; rename one of: databaseAction, ",
        ),
        ({"fields": {"subject": " "}}, "options.fields: 'subject' is renamed to ' '; give a name"),
        ({"fields": {"subject": 5}}, "options.fields.subject is 5: input should be a valid string"),
        ({"deployment": "azure"}, "options.deployment is 'azure': input should be 'onprem' or"),
        ({"allow_insecure_http": "yes"}, "options.allow_insecure_http is 'yes': input should be"),
        ({"timeout": 0}, "options.timeout is 0: input should be greater than 0"),
        ({"batch_size": 0}, "options.batch_size is 0: input should be greater than or equal"),
        ({"batch_size": 101}, "options.batch_size is 101: input should be less than or equal"),
        ({"batch_size": "20"}, "options.batch_size is '20': input should be a valid integer"),
        ({"signing_secret": "whsec_x"}, "options.signing_secret is not a known field; allowed"),
    ],
)
def test_bad_options_are_one_sentence_naming_the_field(
    bc_row: Row, registry: PluginRegistry, options: dict[str, Any], expected: str
) -> None:
    [problem] = refused(bc_row(**options), registry)
    assert problem.startswith(expected), problem
    assert problem.endswith(".") and "\n" not in problem


def test_renames_that_collide_are_refused_with_the_format(
    bc_row: Row, registry: PluginRegistry
) -> None:
    [problem] = refused(bc_row(fields={"subject": "body"}), registry)
    assert problem.startswith("options.fields maps 'subject' to 'body'")
    assert "api_type 'json'" in problem
    validate_connector(bc_row("soap", fields={"subject": "body"}), registry)


@pytest.mark.parametrize(
    ("uri", "options", "variant"),
    [
        (ONPREM_JSON, {}, "onprem"),
        (ONLINE_JSON, {}, "cloud"),
        ("https://bc.dynamics.com.example.org/BC/api/x", {}, "onprem"),
        ("https://DYNAMICS.COM./api/x", {}, "cloud"),
        (ONPREM_JSON, {"deployment": "cloud"}, "cloud"),
        (ONLINE_JSON, {"deployment": "onprem"}, "onprem"),
    ],
)
def test_deployment_from_host_or_option(
    bc_row: Row, registry: PluginRegistry, uri: str, options: dict[str, Any], variant: str
) -> None:
    assert validate_connector(bc_row(uri=uri, **options), registry).variant == variant


def test_basic_online_is_valid_with_a_warning(bc_row: Row, registry: PluginRegistry) -> None:
    valid = validate_connector(bc_row(uri=ONLINE_JSON), registry)
    [warning] = valid.warnings
    assert warning.startswith("connector 'bc': basic authentication on Business Central online")
    assert validate_connector(bc_row(), registry).warnings == ()


def test_windows_over_json_names_what_is_allowed(bc_row: Row, registry: PluginRegistry) -> None:
    auth = {"method": "ntlm", "username": "CRONUS\\u", "password": "p"}
    [problem] = refused(bc_row(auth=auth), registry)
    assert problem == (
        "auth.method 'ntlm' is not allowed for type 'bc' (on-premises) with api_type 'json'; "
        "allowed: basic, entra, oauth2."
    )
