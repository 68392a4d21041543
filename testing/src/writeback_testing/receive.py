"""What ``writeback receive`` runs: a :class:`WebhookReceiver` that prints each request.

The receiver is the tests' own (``writeback_testing.webhook``), so what a
plugin author sees by hand is what the test fixtures see.  This module adds
the failure grammar of ``--fail`` and ``--status`` and the printing.

The ``--fail`` grammar: a comma-separated list of ``ANSWER[xCOUNT]`` items,
used in order, one per POST, before the ``--status`` answer (200 unless
given) is used for every later one.  ``ANSWER`` is an HTTP status from 200
to 599, or ``reset`` to drop the connection without answering; ``COUNT``
(1 to 1000, default 1) repeats it.  ``503x2`` answers 503 twice then succeeds;
``429,503,reset`` answers 429, then 503, then resets the connection once.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any

from writeback_testing.webhook import ReceivedRequest, Step, WebhookReceiver

__all__ = ["PrintingReceiver", "parse_api_key", "parse_fail", "parse_status"]

_ITEM = re.compile(r"(?P<answer>\d{3}|reset)(?:x(?P<count>\d{1,4}))?")
#: Headers whose values are credentials: printed as their scheme and ``***``.
_REDACTED = frozenset({"authorization", "proxy-authorization", "cookie", "x-api-key"})
#: A header name as RFC 9110 allows it (a "token").
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_SIGNATURE_HEADERS = ("webhook-id", "webhook-timestamp", "webhook-signature")
#: How far a ``webhook-timestamp`` may be from now before a receiver should
#: refuse it as a replay (the Standard Webhooks reference libraries use 5 minutes).
TOLERANCE = 300


def parse_status(text: str) -> int:
    """``--status``: an HTTP status from 200 to 599.

    :raises ValueError: one sentence saying what is allowed.
    """
    if not re.fullmatch(r"\d{3}", text.strip()) or not 200 <= int(text) <= 599:
        raise ValueError(f"--status {text!r} is not an HTTP status; give one from 200 to 599.")
    return int(text)


def parse_api_key(text: str) -> tuple[str, str]:
    """``--api-key``: ``HEADER:VALUE``, the header that must carry the key and the key.

    :raises ValueError: one sentence saying what is allowed (never quoting the key).
    """
    header, colon, key = text.partition(":")
    if not colon or not _HEADER_NAME.fullmatch(header.strip()) or not key.strip():
        raise ValueError(
            "--api-key must be HEADER:VALUE, a header name (letters, digits, '-') and the key "
            "joined by ':', like X-Api-Key:abc123."
        )
    return header.strip(), key.strip()


def parse_fail(text: str) -> list[Step]:
    """``--fail``: the answers to give first, one :class:`Step` per POST.

    :raises ValueError: one sentence naming the item that is wrong.
    """
    steps: list[Step] = []
    for item in text.split(","):
        match = _ITEM.fullmatch(item.strip())
        count = int(match["count"] or 1) if match else 0
        if match is None or not 1 <= count <= 1000:
            raise ValueError(
                f"--fail item {item.strip()!r} is not ANSWER[xCOUNT]; give a status from 200 "
                "to 599 or 'reset', optionally with a count of 1 to 1000 (like 503x2,429,reset)."
            )
        if match["answer"] == "reset":
            step = Step(drop=True)
        else:
            status = int(match["answer"])
            if not 200 <= status <= 599:
                raise ValueError(
                    f"--fail item {item.strip()!r} has status {status}; give one from 200 to 599."
                )
            step = Step(status)
        steps.extend([step] * count)
    return steps


class PrintingReceiver(WebhookReceiver):
    """A webhook receiver that prints every request as it answers it.

    ``fail`` is answered first, one step per POST; then ``status`` for every
    POST.  With ``api_key`` (a header name and its value), a request whose
    header does not carry that value is answered 401 and consumes nothing, like
    one failing ``basic_auth``; with both, both must pass.  ``write`` gets one
    block of text per request, before the answer is sent, so a client that has
    its answer finds the request printed.
    """

    def __init__(
        self,
        *,
        write: Callable[[str], None],
        port: int = 0,
        basic_auth: tuple[str, str] | None = None,
        api_key: tuple[str, str] | None = None,
        signing_secret: str | None = None,
        fail: list[Step] | None = None,
        status: int = 200,
    ) -> None:
        self._fail = deque(fail or ())
        self._then = Step(status)
        self._plan_lock = threading.Lock()
        super().__init__(self._next_step, basic_auth=basic_auth, signing_secret=signing_secret)
        self.bind_port = port
        self._write = write
        self._user = None if basic_auth is None else basic_auth[0]
        self._printed = 0
        self._key_header = None if api_key is None else api_key[0].lower()
        self._key = None if api_key is None else api_key[1].encode("utf-8")
        # The key's header is a credential whatever it is called: never printed.
        self._redacted = _REDACTED | {self._key_header} if self._key_header else _REDACTED

    def _next_step(self, request: ReceivedRequest) -> Step:
        with self._plan_lock:
            return self._fail.popleft() if self._fail else self._then

    def _choose(self, request: ReceivedRequest) -> Step:
        if self._key is not None and not self._key_matches(request.headers):
            return Step(401, body={"ok": False, "error": "unauthorized"})
        return super()._choose(request)

    def _key_matches(self, headers: Mapping[str, str]) -> bool:
        assert self._key_header is not None and self._key is not None
        given = headers.get(self._key_header)
        return given is not None and hmac.compare_digest(given.encode("utf-8"), self._key)

    def _record(self, arrival: int, request: ReceivedRequest) -> None:
        # The one place every request passes with its answer known (a 401 from the
        # Basic check included), and before that answer is sent.
        super()._record(arrival, request)
        with self._plan_lock:
            self._printed += 1
            number = self._printed
        self._write(self.describe(number, request))

    def describe(self, number: int, request: ReceivedRequest) -> str:
        """The printed block for one request: a heading line, then indented details."""
        answer = "connection reset (no answer)" if request.status is None else request.status
        stamp = time.strftime("%H:%M:%S", time.localtime(request.received_at))
        lines = [f"#{number} {stamp} {request.method} {request.path} -> {answer}"]
        lines += [
            f"  {name}: {_shown(name, value, self._redacted)}"
            for name, value in request.headers.items()
        ]
        if self._user is not None:
            lines.append(f"  basic auth: {self._basic_verdict(request.headers)}")
        if self._key_header is not None:
            lines.append(f"  api key: {self._key_verdict(request.headers)}")
        if self._secret is not None:
            lines.append(f"  signature: {_signature_verdict(request)}")
        lines += _body_lines(request)
        return "\n".join(lines) + "\n"

    def _basic_verdict(self, headers: Mapping[str, str]) -> str:
        if self._authorized(headers):
            return f"valid (user {self._user!r})"
        scheme, _, credentials = headers.get("authorization", "").partition(" ")
        if not scheme:
            return "missing: no Authorization header, answered 401"
        if scheme.lower() != "basic":
            return f"missing: Authorization is {scheme!r}, not Basic; answered 401"
        try:
            user = base64.b64decode(credentials.strip(), validate=True).decode().partition(":")[0]
        except (binascii.Error, ValueError):
            return "wrong: the Basic credentials are not base64 'user:password'; answered 401"
        if user != self._user:
            return f"wrong: user {user!r}, expected {self._user!r}; answered 401"
        return f"wrong: the password for {user!r} does not match; answered 401"

    def _key_verdict(self, headers: Mapping[str, str]) -> str:
        if self._key_matches(headers):
            return f"valid (header {self._key_header})"
        if self._key_header not in headers:
            return f"missing: no {self._key_header} header, answered 401"
        return f"wrong: {self._key_header} does not carry the expected key; answered 401"


def _shown(name: str, value: str, redacted: frozenset[str] = _REDACTED) -> str:
    if name not in redacted:
        return value
    scheme, _, rest = value.partition(" ")
    return f"{scheme} *** (redacted)" if rest else "*** (redacted)"


def _signature_verdict(request: ReceivedRequest) -> str:
    missing = [h for h in _SIGNATURE_HEADERS if not request.headers.get(h)]
    if missing:
        return f"missing: no {', '.join(missing)} header"
    if not request.signature_valid:
        return (
            "INVALID: no v1 signature matches; check that both sides use the same "
            "signing secret and that the body was not changed"
        )
    try:
        skew = int(time.time()) - int(request.headers["webhook-timestamp"])
    except ValueError:
        return "valid, but webhook-timestamp is not a number of seconds"
    if abs(skew) > TOLERANCE:
        return f"valid, but webhook-timestamp is {skew} s from now (receivers refuse > {TOLERANCE})"
    return "valid"


def _body_lines(request: ReceivedRequest) -> list[str]:
    if not request.body:
        return ["  (no body)"]
    text: Any
    if request.json is not None or request.body.strip() == b"null":
        text = json.dumps(request.json, indent=2, ensure_ascii=False, sort_keys=False)
    else:
        text = request.text
    return ["  body:", *(f"    {line}" for line in text.splitlines())]
