"""Getting a Kerberos ticket from ``user@REALM`` and a password, once per connector.

The ticket-granting ticket is requested with the ``krb5`` package (as pyspnego
does internally) into an in-memory credential cache of this process, so no
ticket cache file and no ``kinit`` are needed; the KDC is found through the
standard Kerberos configuration (``KRB5_CONFIG``).  Doing it here rather than
inside pyspnego's Negotiate matters for two reasons: pyspnego silently drops
Kerberos when getting the ticket fails, so a wrong password or a KDC that is
down could not be told apart; and the ticket is reused for every handshake
until shortly before it expires instead of asking the KDC each time.
"""

from __future__ import annotations

import importlib.util
import logging
import threading
import time

from writeback.plugin import AttemptError, secret_safe_logger

from ._handshake import KDC_REFUSED_PASSWORD, KDC_REFUSED_USER, KDC_UNREACHABLE, KERBEROS_ERROR

__all__ = ["KerberosLogin", "kerberos_installed"]

log: logging.Logger = secret_safe_logger("writeback.auth.windows")

#: Renew the ticket this long before it expires.
RENEW_BEFORE = 300.0

# MIT krb5 error codes (krb5/krb5.h, com_err table "KRB5").
_PREAUTH_FAILED = -1765328360
_BAD_INTEGRITY = -1765328353  # "Password incorrect" when the KDC does not require pre-auth
_CLIENT_UNKNOWN = -1765328378
_CLIENT_REVOKED = -1765328366
_KEY_EXPIRED = -1765328361
_KDC_UNREACHABLE = -1765328228
_SERVICE_UNAVAILABLE = -1765328355
_REALM_UNKNOWN = -1765328230
_NO_DEFAULT_REALM = -1765328160
_CONFIG_CANT_OPEN = -1765328248
_REFUSED_PASSWORD = frozenset({_PREAUTH_FAILED, _BAD_INTEGRITY})
_REFUSED_USER = frozenset({_CLIENT_UNKNOWN, _CLIENT_REVOKED, _KEY_EXPIRED})
_UNREACHABLE = frozenset({_KDC_UNREACHABLE, _SERVICE_UNAVAILABLE})
# Kerberos is not possible for this user here: use NTLM inside Negotiate.
_NOT_POSSIBLE = frozenset({_REALM_UNKNOWN, _NO_DEFAULT_REALM, _CONFIG_CANT_OPEN})


def kerberos_installed() -> bool:
    """Whether pyspnego can do Kerberos here (the ``kerberos`` extra: gssapi and krb5)."""
    return all(importlib.util.find_spec(name) is not None for name in ("gssapi", "krb5"))


class KerberosLogin:
    """The ticket of one principal, fetched on first use and renewed before it expires.

    Thread-safe: the sessions of every worker thread of a connector share it,
    and only one of them asks the KDC at a time.
    """

    def __init__(self, principal: str) -> None:
        self.principal = principal
        self._lock = threading.Lock()
        self._ccache: str | None = None
        self._expires = 0.0
        self._impossible = False
        #: Tickets requested from the KDC (tests check the ticket is reused).
        self.requests = 0

    def ccache(self, password: str) -> str | None:
        """A ``MEMORY:`` credential cache holding a valid ticket, or None when Kerberos
        is not possible for this user here (its realm has no KDC configured).

        :raises AttemptError: WB-340/341/345 (failed) or WB-342 (retry).
        """
        with self._lock:
            if self._impossible:
                return None
            if self._ccache is not None and time.time() < self._expires - RENEW_BEFORE:
                return self._ccache
            import krb5

            self.requests += 1
            try:
                self._ccache, self._expires = _kinit(self.principal, password)
            except krb5.Krb5Error as exc:
                code = getattr(exc, "err_code", None)
                if code in _NOT_POSSIBLE:
                    self._impossible = True
                    log.warning(
                        "no Kerberos KDC is configured for %s (%s); using NTLM inside Negotiate",
                        self.principal,
                        _reason(exc),
                    )
                    return None
                raise _attempt_error(self.principal, exc) from None
            return self._ccache


def _kinit(principal: str, password: str) -> tuple[str, float]:
    import krb5

    ctx = krb5.init_context()
    princ = krb5.parse_name_flags(ctx, principal.encode())
    options = krb5.get_init_creds_opt_alloc(ctx)
    krb5.get_init_creds_opt_set_canonicalize(options, True)
    creds = krb5.get_init_creds_password(ctx, princ, options, password=password.encode())
    ccache = krb5.cc_new_unique(ctx, b"MEMORY")
    krb5.cc_initialize(ctx, ccache, creds.client)
    krb5.cc_store_cred(ctx, ccache, creds)
    name = b"MEMORY:" + (ccache.name or b"")
    return name.decode(), float(creds.times.endtime)


def _reason(exc: Exception) -> str:
    # Krb5Error's text ends with its numeric code; the sentence is enough.
    text = str(exc).strip()
    code = getattr(exc, "err_code", None)
    if code is not None and text.endswith(str(code)):
        text = text[: -len(str(code))].strip()
    return text


def _attempt_error(principal: str, exc: Exception) -> AttemptError:
    code = getattr(exc, "err_code", None)
    reason = _reason(exc)
    if code in _REFUSED_PASSWORD:
        return AttemptError(
            f"the Kerberos KDC refused the password of {principal} ({reason}); "
            "correct auth.password.",
            code=KDC_REFUSED_PASSWORD,
        )
    if code in _REFUSED_USER:
        return AttemptError(
            f"the Kerberos KDC refused the user {principal} ({reason}); check auth.username "
            "and that the account is enabled.",
            code=KDC_REFUSED_USER,
        )
    if code in _UNREACHABLE:
        return AttemptError(
            f"no Kerberos KDC answered for {principal} ({reason}); will retry.",
            code=KDC_UNREACHABLE,
            retryable=True,
        )
    return AttemptError(
        f"Kerberos could not get a ticket for {principal} ({reason}); check the Kerberos "
        "configuration (KRB5_CONFIG).",
        code=KERBEROS_ERROR,
    )
