"""The auth suite's ``("header", NAME)`` acceptor: an API key in a request header.

An auth method that only adds a header (an API key) is let in by no other
acceptor: Basic, Bearer, NTLM and Negotiate all read ``Authorization``.  This
one lets a request in when header ``NAME`` carries exactly the secret value of
the suite's valid ``settings``, and otherwise answers 401 with a text that says
which: the header missing, or carrying another value (never quoting either).
"""

from __future__ import annotations

import hmac
import threading
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pytest

from writeback_testing.acceptors import challenge

if TYPE_CHECKING:
    from writeback_testing._server import LoopbackHandler

__all__ = ["HeaderKeyAcceptor", "header_acceptor"]


class HeaderKeyAcceptor:
    """Lets a request in when header ``header`` is exactly ``value``; else 401."""

    scheme = "ApiKey"

    def __init__(self, header: str, value: str, field: str) -> None:
        self.header = header
        self.field = field
        self._value = value.encode("utf-8")
        self._lock = threading.Lock()
        self.accepted = 0
        self.refused = 0
        #: Why each refused request was refused, in order (no values quoted).
        self.refusals: list[str] = []

    def authenticate(self, handler: LoopbackHandler) -> str | None:
        given = handler.headers.get(self.header)
        if given is not None and hmac.compare_digest(given.encode("utf-8"), self._value):
            with self._lock:
                self.accepted += 1
            return f"{self.header} key"
        if given is None:
            why = f"no {self.header} header arrived"
        else:
            why = f"the {self.header} header did not carry settings[{self.field!r}]"
        with self._lock:
            self.refused += 1
            self.refusals.append(why)
        challenge(handler, f'{self.scheme} header="{self.header}"', body=why.encode())
        return None

    def advice(self, error: str = "") -> str:
        """What the last refusal asks of the plugin, in one clause; the refusal's
        reason is repeated unless ``error`` (the attempt's) already says it."""
        why = "" if self.refusals[-1] in error else f" ({self.refusals[-1]})"
        return (
            f"the back office wants the {self.header} header carrying "
            f"settings[{self.field!r}]{why}: return {{{self.header!r}: "
            f"context.reveal(self.settings.{self.field})}} from headers()"
        )


def header_acceptor(
    kind: Sequence[Any], settings: Mapping[str, Any], secret_fields: Sequence[str]
) -> HeaderKeyAcceptor:
    """The acceptor ``acceptor = ("header", NAME[, FIELD])`` asks for.

    ``FIELD`` is the setting whose value the header must carry; without it, the
    method's one secret setting among ``settings``.
    """
    if not 2 <= len(kind) <= 3 or not all(isinstance(part, str) and part for part in kind):
        pytest.fail(
            f"acceptor {tuple(kind)!r} is not ('header', NAME) or ('header', NAME, FIELD); "
            "give the header's name, and the setting it carries when there are several."
        )
    header = kind[1]
    if len(kind) == 3:
        field = kind[2]
    else:
        present = [f for f in secret_fields if f in settings]
        if len(present) != 1:
            pytest.fail(
                f"acceptor ('header', {header!r}) needs the setting whose value the header "
                f"carries, and settings hold {len(present)} secret settings {present}; name "
                f"it: acceptor = ('header', {header!r}, 'key')."
            )
        field = present[0]
    if field not in settings:
        pytest.fail(
            f"acceptor ('header', {header!r}, {field!r}): settings have no {field!r}; set "
            "it in settings to the value the header must carry."
        )
    return HeaderKeyAcceptor(header, str(settings[field]), field)
