"""Validating a webhook row's options: sentences that never echo a secret."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from writeback import InvalidConnectorError
from writeback.plugin import ValidatedConnector
from writeback_webhook import WebhookOptions

MakeConnector = Callable[..., ValidatedConnector]


def problems(make_connector: MakeConnector, **options: Any) -> list[str]:
    with pytest.raises(InvalidConnectorError) as caught:
        make_connector(**options)
    return caught.value.problems


def test_defaults(make_connector: MakeConnector) -> None:
    connector = make_connector()
    assert connector.options == WebhookOptions()
    assert connector.options.signing_secret is None
    assert connector.options.payload == "envelope"
    assert connector.options.timeout == 30.0
    assert connector.coalesce is False


def test_literal_and_env_secrets_are_accepted(
    make_connector: MakeConnector, signing_secret: str
) -> None:
    literal = make_connector(signing_secret=signing_secret).options
    assert isinstance(literal, WebhookOptions)
    assert literal.signing_secret is not None
    assert literal.signing_secret.get_secret_value() == signing_secret
    assert "options.signing_secret" in make_connector(signing_secret="env:WB_HOOK").secret_paths()


@pytest.mark.parametrize(
    "bad",
    [
        "hunter2-not-a-whsec-secret",
        "whsec_***not base64***",
        "whsec_",
        "whsec_Zm9v=extra",
    ],
)
def test_a_malformed_secret_is_refused_without_quoting_it(
    make_connector: MakeConnector, bad: str
) -> None:
    found = problems(make_connector, signing_secret=bad)
    assert len(found) == 1
    assert found[0].startswith("options.signing_secret: ")
    assert "'whsec_' followed by base64" in found[0]
    secret_part = bad.removeprefix("whsec_")
    assert not secret_part or secret_part not in found[0]


def test_an_env_secret_must_name_a_variable(make_connector: MakeConnector) -> None:
    (found,) = problems(make_connector, signing_secret="env:not a name")
    assert found.startswith("options.signing_secret: an env: secret must name")


def test_a_secret_of_the_wrong_type_is_not_quoted(make_connector: MakeConnector) -> None:
    (found,) = problems(make_connector, signing_secret=12345678)
    assert "12345678" not in found
    assert "a secret value" in found


@pytest.mark.parametrize("timeout", [0, -1, 300.5])
def test_timeout_must_be_above_0_and_at_most_300(
    make_connector: MakeConnector, timeout: float
) -> None:
    (found,) = problems(make_connector, timeout=timeout)
    assert found.startswith(f"options.timeout is {timeout!r}")


def test_timeout_300_is_accepted(make_connector: MakeConnector) -> None:
    options = make_connector(timeout=300).options
    assert isinstance(options, WebhookOptions)
    assert options.timeout == 300.0


def test_payload_is_envelope_or_appointment(make_connector: MakeConnector) -> None:
    (found,) = problems(make_connector, payload="bare")
    assert "'envelope'" in found
    assert "'appointment'" in found


def test_unknown_option_is_refused_listing_the_known_ones(make_connector: MakeConnector) -> None:
    (found,) = problems(make_connector, secret="x")
    assert found == (
        "options.secret is not a known field; allowed fields: timeout, allow_insecure_http, "
        "signing_secret, payload."
    )


def test_windows_auth_is_not_offered_for_a_webhook(make_connector: MakeConnector) -> None:
    with pytest.raises(InvalidConnectorError) as caught:
        make_connector(auth={"method": "ntlm", "username": "D\\u", "password": "p"})
    assert "allowed: none, basic, entra, oauth2." in str(caught.value)


def test_options_are_frozen() -> None:
    options = WebhookOptions()
    with pytest.raises(ValueError, match="frozen"):
        options.timeout = 5  # type: ignore[misc]
