"""Removing secrets from texts: every form a secret travels in, and a secret cut short.

A server that refuses a request may quote it back, and what it quotes is the
secret as it went over the wire, not as the user wrote it: base64 inside a
Basic header, URL-encoded in a form body, JSON-escaped in a JSON answer.  So
:class:`Redactor` remembers each secret in all of those forms, and the Basic
header's ``base64(user:password)`` for each pair sent.

A text cut to a length limit (an error body, an OAuth2 ``error_description``)
may end inside a secret; the start of a secret just before the cut is removed
too.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
from urllib.parse import quote, quote_plus

__all__ = [
    "ELLIPSIS",
    "MASK",
    "REDACTOR",
    "RedactingFilter",
    "Redactor",
    "add_basic_secret",
    "add_secret",
    "basic_forms",
    "redact",
    "wire_forms",
]

MASK = "***"
_MISSING = object()
#: What the formats end a shortened text with; a cut secret ends just before it.
ELLIPSIS = "…"


def wire_forms(value: str) -> set[str]:
    """``value`` as it is written on the wire: as is, URL-encoded (path and form style,
    upper- and lower-case escapes), and JSON-escaped (ASCII-only and not)."""
    encoded = {quote(value), quote(value, safe=""), quote_plus(value), quote_plus(value, safe="/")}
    forms = {value, *encoded, *(_lower_escapes(e) for e in encoded)}
    forms.add(json.dumps(value)[1:-1])
    forms.add(json.dumps(value, ensure_ascii=False)[1:-1])
    return forms


def _lower_escapes(text: str) -> str:
    # Some encoders write %2f where urllib writes %2F.
    parts = text.split("%")
    return parts[0] + "".join("%" + p[:2].lower() + p[2:] for p in parts[1:])


def basic_forms(username: str, password: str) -> set[str]:
    """The credentials of ``Authorization: Basic`` for this pair: base64 of ``user:password``
    as UTF-8 (httpx) and as Latin-1 (requests), where it can be."""
    forms = set()
    for encoding in ("utf-8", "latin-1"):
        try:
            raw = f"{username}:{password}".encode(encoding)
        except UnicodeEncodeError:
            continue
        forms.add(base64.b64encode(raw).decode("ascii"))
    return forms


class Redactor:
    """Remembers secret values and removes them from text."""

    #: Values shorter than this are not redacted: replacing "a" everywhere would
    #: wreck every message and hide nothing worth hiding.
    MIN_LENGTH = 3
    #: The shortest start of a secret removed before a cut: shorter ones are too
    #: likely to be ordinary text, and too short to help anyone guess the rest.
    MIN_CUT = 4
    #: Seconds between passes that forget expired values.
    PRUNE_EVERY = 60.0

    def __init__(self) -> None:
        # Each form, and until when it is kept (None: for the life of the process).
        self._values: dict[str, float | None] = {}
        self._lock = threading.Lock()
        self._ordered: list[str] | None = None
        self._starts: dict[str, list[str]] = {}
        self._longest = 0
        self._next_prune = 0.0

    def add(self, value: str | None, *, until: float | None = None) -> None:
        """Remember ``value`` in every form it travels in (:func:`wire_forms`).

        :param until: unix time after which it may be forgotten (an access token
            some time after its expiry); ``None`` keeps it for the life of the process.
        """
        if value and len(value) >= self.MIN_LENGTH and not self._covers(value, until):
            self._remember(wire_forms(value), until)

    def add_basic(self, username: str, password: str | None, *, until: float | None = None) -> None:
        """Remember ``password`` and the Basic header credentials it is sent in."""
        if password and len(password) >= self.MIN_LENGTH:
            self.add(password, until=until)
            forms = basic_forms(username, password)
            if not all(self._covers(form, until) for form in forms):
                self._remember(forms, until)

    def _covers(self, value: str, until: float | None) -> bool:
        # Called for every request sent (secrets are revealed per send): known
        # values must cost a lookup, not the forms and a pass over the list.
        kept = self._values.get(value, _MISSING)
        if kept is _MISSING:
            return False
        return kept is None or (until is not None and kept >= until)

    def _remember(self, forms: set[str], until: float | None) -> None:
        with self._lock:
            now = time.time()
            if now >= self._next_prune:
                self._next_prune = now + self.PRUNE_EVERY
                for value in [
                    v for v, end in self._values.items() if end is not None and end < now
                ]:
                    del self._values[value]
            for form in forms:
                if len(form) >= self.MIN_LENGTH and not self._covers(form, until):
                    self._values[form] = until
            self._ordered = None

    def _index(self) -> tuple[list[str], dict[str, list[str]], int]:
        with self._lock:
            if self._ordered is None:
                # Longest first, so that a secret containing another is removed whole.
                self._ordered = sorted(self._values, key=len, reverse=True)
                starts: dict[str, list[str]] = {}
                for value in self._ordered:
                    if len(value) > self.MIN_CUT:
                        starts.setdefault(value[: self.MIN_CUT], []).append(value)
                self._starts = starts
                self._longest = len(self._ordered[0]) if self._ordered else 0
            return self._ordered, self._starts, self._longest

    def redact(self, text: str | None) -> str | None:
        """``text`` with every known secret, and any start of one before a cut, as ``***``."""
        if not text:
            return text
        ordered, starts, longest = self._index()
        for value in ordered:
            if value in text:
                text = text.replace(value, MASK)
        if starts:
            text = self._redact_cuts(text, starts, longest)
        return text

    def _redact_cuts(self, text: str, starts: dict[str, list[str]], longest: int) -> str:
        """Remove the start of a secret that a cut (the end, or an ellipsis) left behind."""
        cuts = [i for i, ch in enumerate(text) if ch == ELLIPSIS] + [len(text)]
        for cut in reversed(cuts):  # from the end, so that earlier positions stay valid
            for begin in range(max(0, cut - longest), cut - self.MIN_CUT + 1):
                candidates = starts.get(text[begin : begin + self.MIN_CUT])
                if not candidates:
                    continue
                fragment = text[begin:cut]
                if any(len(v) > len(fragment) and v.startswith(fragment) for v in candidates):
                    text = text[:begin] + MASK + text[cut:]
                    break
        return text


#: The process's redactor: every secret revealed, decrypted or handed out is added to it.
REDACTOR = Redactor()


def redact(text: str) -> str:
    """``text`` with every secret this process knows replaced by ``***``."""
    return REDACTOR.redact(text) or ""


def add_secret(value: str | None, *, until: float | None = None) -> None:
    """Treat ``value`` as a secret from now on, in every form it travels in.

    For a value a plugin sends that is not a revealed setting (a derived
    header, an access token); revealed settings are added by the core.

    :param until: unix time after which it may be forgotten; ``None``: never.
    """
    REDACTOR.add(value, until=until)


def add_basic_secret(username: str, password: str | None, *, until: float | None = None) -> None:
    """Treat ``password`` and the Basic ``Authorization`` credentials it makes as secrets."""
    REDACTOR.add_basic(username, password, until=until)


class RedactingFilter(logging.Filter):
    """A logging filter that removes known secrets from every record it passes:
    the message, and the traceback and stack text the formatter would add."""

    def __init__(self, redactor: Redactor = REDACTOR) -> None:
        super().__init__()
        self.redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = self.redactor.redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            # An exception's text may quote a secret: formatted here, so that
            # every handler prints the redacted text the formatter finds set.
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redactor.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redactor.redact(record.stack_info)
        return True
