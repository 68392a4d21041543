"""The auth suite's ``("header", NAME)`` acceptor, in front of a real loopback receiver."""

from __future__ import annotations

import httpx
import pytest
from writeback_testing.contract._header import HeaderKeyAcceptor, header_acceptor
from writeback_testing.webhook import WebhookReceiver

KEY = "k-0123456789abcdef"


def test_only_the_expected_key_in_the_named_header_is_let_in(client: httpx.Client) -> None:
    acceptor = header_acceptor(("header", "X-Api-Key"), {"key": KEY, "header": "X"}, ["key"])
    receiver = WebhookReceiver(auth=acceptor).start()
    try:
        missing = client.post(receiver.url, json={}, headers={"Authorization": f"Bearer {KEY}"})
        wrong = client.post(receiver.url, json={}, headers={"X-Api-Key": "k-other"})
        right = client.post(receiver.url, json={}, headers={"x-api-key": KEY})
    finally:
        receiver.stop()
    assert (missing.status_code, wrong.status_code, right.status_code) == (401, 401, 200)
    assert missing.text == "no X-Api-Key header arrived"
    assert wrong.text == "the X-Api-Key header did not carry settings['key']"
    assert KEY not in missing.text + wrong.text
    assert (acceptor.accepted, acceptor.refused) == (1, 2)
    assert acceptor.advice("HTTP 401: " + wrong.text) == (
        "the back office wants the X-Api-Key header carrying settings['key']: "
        "return {'X-Api-Key': context.reveal(self.settings.key)} from headers()"
    )
    # An error that does not quote the answer gets the reason in the advice.
    assert "settings['key'] (the X-Api-Key header did not carry" in acceptor.advice("HTTP 401")


def test_a_named_field_is_the_one_carried() -> None:
    acceptor = header_acceptor(("header", "Token", "token"), {"token": "t", "key": "k"}, [])
    assert isinstance(acceptor, HeaderKeyAcceptor)
    assert (acceptor.header, acceptor.field) == ("Token", "token")


@pytest.mark.parametrize(
    ("kind", "settings", "secrets", "words"),
    [
        (("header",), {"key": KEY}, ["key"], "is not ('header', NAME)"),
        (("header", ""), {"key": KEY}, ["key"], "is not ('header', NAME)"),
        (("header", "X-Api-Key"), {"a": "1", "b": "2"}, ["a", "b"], "name it: acceptor ="),
        (("header", "X-Api-Key"), {"user": "u"}, ["key"], "settings hold 0 secret settings"),
        (("header", "X-Api-Key", "key"), {"user": "u"}, [], "settings have no 'key'"),
    ],
)
def test_a_misconfigured_acceptor_fails_saying_what_to_set(
    kind: tuple[str, ...], settings: dict[str, str], secrets: list[str], words: str
) -> None:
    with pytest.raises(pytest.fail.Exception, match=r"acceptor") as info:
        header_acceptor(kind, settings, secrets)
    assert words in str(info.value)
