"""The redactor: every form a secret travels in, a secret cut short, expired tokens."""

from __future__ import annotations

import base64
import json
import logging
import time
from urllib.parse import quote, quote_plus

import pytest
from writeback._redaction import RedactingFilter, Redactor
from writeback._token_errors import token_oauth_error

SECRET = 'pa55/wörd+x="y" z'


@pytest.mark.parametrize(
    "form",
    [
        SECRET,
        quote(SECRET),
        quote(SECRET, safe=""),
        quote_plus(SECRET),
        quote(SECRET, safe="").lower(),
        json.dumps(SECRET)[1:-1],
        json.dumps(SECRET, ensure_ascii=False)[1:-1],
    ],
)
def test_every_wire_form_of_a_secret_is_removed(form):
    redactor = Redactor()
    redactor.add(SECRET)
    assert redactor.redact(f"the server said: {form}.") == "the server said: ***."


def test_basic_credentials_are_removed_in_both_encodings():
    redactor = Redactor()
    redactor.add_basic("planner", SECRET)
    for encoding in ("utf-8", "latin-1"):
        header = base64.b64encode(f"planner:{SECRET}".encode(encoding)).decode()
        assert redactor.redact(f"Authorization: Basic {header}") == "Authorization: Basic ***"


def test_the_start_of_a_secret_before_a_cut_is_removed():
    redactor = Redactor()
    redactor.add("0123456789-token-abcdef")
    assert redactor.redact("HTTP 400: you sent 0123456789-to…") == "HTTP 400: you sent ***…"
    assert redactor.redact("you sent 0123456789-tok") == "you sent ***"
    cut = "HTTP 400: you sent 0123…(gave up after 3 attempts)"
    assert redactor.redact(cut) == "HTTP 400: you sent ***…(gave up after 3 attempts)"
    # Three characters are ordinary text, not a secret worth hiding.
    assert redactor.redact("at 012…") == "at 012…"


def test_a_token_error_cuts_the_description_after_redacting_it():
    from writeback._redaction import REDACTOR

    secret = "q" * 20 + "-the-client-secret-" + "r" * 20
    REDACTOR.add(secret)
    description = "x" * 290 + " " + secret + " and more"
    error = token_oauth_error(
        "invalid_client", description, url="https://login.example/t", client_id="app"
    )
    assert "qqqq" not in str(error) and "***" in str(error)


def test_a_token_is_forgotten_after_its_time():
    redactor = Redactor()
    redactor.PRUNE_EVERY = 0.0
    redactor.add("expired-token-value", until=time.time() - 1)
    redactor.add("another-secret-value")  # adding prunes what has expired
    assert redactor.redact("expired-token-value") == "expired-token-value"
    assert redactor.redact("another-secret-value") == "***"


def test_log_records_lose_secrets_in_tracebacks_too(caplog):
    redactor = Redactor()
    redactor.add("traceback-secret-42")
    logger = logging.getLogger("writeback.test.redaction")
    logger.addFilter(RedactingFilter(redactor))
    with caplog.at_level(logging.INFO, logger=logger.name):
        try:
            raise ValueError("refused traceback-secret-42")
        except ValueError:
            logger.exception("failed with %s", "traceback-secret-42")
    assert "traceback-secret-42" not in caplog.text
    assert "refused ***" in caplog.text
