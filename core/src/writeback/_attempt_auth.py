"""The credentials of one attempt: what the pipeline hands a format's ``send``.

The pipeline asks the connector's auth mechanism for an :class:`AttemptAuth` once
per attempt (``await mechanism.attempt_auth()``) and passes it to
``ApiFormat.send(message, auth)``.  After a 401 it asks that same object, once,
to refresh exactly the credential it attached, and resends with it when that is
worthwhile.  The object is the record of what the attempt sent: no context
variable carries it, no clock guesses it, and a format need not remember
anything to keep it (its threads see the object they were given).

Stateless methods (basic, bearer tokens) only produce :meth:`AttemptAuth.headers`,
which every transport can send, so a new transport needs no change in them.
Methods that authenticate a connection (NTLM, Negotiate) hand the transport its
own object through :meth:`AttemptAuth.transport_auth` and name the transports
they support.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._interfaces import AuthMechanism

__all__ = ["NO_AUTH", "AttemptAuth", "HeaderAuth", "TransportAuth", "legacy_attempt_auth"]


class AttemptAuth:
    """The credentials one attempt carries; every method has a do-nothing default."""

    def headers(self) -> Mapping[str, str]:
        """Headers to add to every request of the attempt (``Authorization: …``)."""
        return {}

    def transport_auth(self, transport: str) -> Any:
        """For a connection-bound method only: the transport's own auth object (a
        ``requests.auth.AuthBase`` for ``requests``), else ``None``.  A format that
        keeps connections may keep this object with them until a 401."""
        return None

    async def refresh_after_401(self) -> bool:
        """The endpoint answered 401 to what this object attached: drop exactly that
        credential and take a fresh one.  True when one resend with this object is
        worthwhile; the pipeline asks once per attempt."""
        return False


class HeaderAuth(AttemptAuth):
    """Fixed headers, nothing to refresh (Basic, an API key)."""

    def __init__(self, headers: Mapping[str, str]) -> None:
        self._headers = dict(headers)

    def headers(self) -> Mapping[str, str]:
        return self._headers

    def __repr__(self) -> str:  # never the values: they are credentials
        return f"HeaderAuth({sorted(self._headers)})"


#: The credentials of a connector with auth method ``none``.
NO_AUTH = HeaderAuth({})


class TransportAuth(AttemptAuth):
    """A connection-bound method's credentials: ``make(transport)`` builds the
    transport's auth object (revealing secrets then); nothing to refresh."""

    def __init__(self, make: Callable[[str], Any]) -> None:
        self._make = make

    def transport_auth(self, transport: str) -> Any:
        return self._make(transport)


class _LegacyAuth(AttemptAuth):
    """A mechanism written against the previous interface (``for_transport`` and
    ``unauthorized``), seen through this one."""

    def __init__(self, mechanism: AuthMechanism) -> None:
        self._mechanism = mechanism
        self._refreshed = False

    def transport_auth(self, transport: str) -> Any:
        return self._mechanism.for_transport(transport)  # type: ignore[attr-defined]

    async def refresh_after_401(self) -> bool:
        if self._refreshed:
            return False
        self._refreshed = True
        unauthorized = getattr(self._mechanism, "unauthorized", None)
        return bool(await unauthorized()) if unauthorized is not None else False


def legacy_attempt_auth(mechanism: Any) -> AttemptAuth:
    """An :class:`AttemptAuth` for a mechanism that implements only the previous
    interface, with a ``DeprecationWarning`` saying what to implement instead."""
    warnings.warn(
        f"auth mechanism {type(mechanism).__qualname__}: for_transport() and "
        "unauthorized() are deprecated; implement headers() (stateless) or "
        "attempt_auth() (docs/plugin-api.md, AttemptAuth)",
        DeprecationWarning,
        stacklevel=3,
    )
    return _LegacyAuth(mechanism)
