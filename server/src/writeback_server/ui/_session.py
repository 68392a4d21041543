"""The dashboard's session: a signed cookie that names the API key, never holds it.

The cookie ``wb_session`` carries a small JSON payload and an HMAC-SHA256 of it:
a CSRF token, and once signed in the key's *name*, a fingerprint of its stored
hash (itself an HMAC under the session secret, so neither the key nor the hash
the store keeps ever leaves the server) and an expiry.  Every request looks the
key up again by name, so revoking a key ends its sessions at once.

The secret is ``WRITEBACK_UI_SECRET`` when set (at least 32 characters: several
processes behind one address then accept each other's cookies), else 32 random
bytes made when the process starts, so a restart signs everyone out.

The cookie is ``HttpOnly`` (no script reads it), ``SameSite=Strict`` (no other
site's page sends it), ``Path=/ui`` and ``Secure`` when the request came over
HTTPS.  Every form that changes something carries the session's CSRF token
(:func:`check_csrf`); an anonymous visitor gets a session too, so the sign-in
form carries one as well.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
import os
import secrets
import time
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

__all__ = ["COOKIE", "LIFETIME", "SECRET_ENV", "Session", "check_csrf", "fingerprint"]

#: The cookie's name.
COOKIE = "wb_session"
#: Seconds a sign-in lasts.
LIFETIME = 8 * 3600
#: The environment variable that may hold the signing secret.
SECRET_ENV = "WRITEBACK_UI_SECRET"

_secret: bytes | None = None
log = logging.getLogger("writeback.server")


def _key() -> bytes:
    global _secret
    if _secret is None:
        configured = os.environ.get(SECRET_ENV, "")
        if configured and len(configured) < 32:
            # Ignored rather than trusted: a random secret only costs a sign-in
            # after a restart.  The value itself is never logged.
            log.warning(
                "%s is shorter than 32 characters and is ignored; the dashboard signs "
                "its sessions with a secret of this process's own.",
                SECRET_ENV,
            )
            configured = ""
        _secret = configured.encode() if configured else secrets.token_bytes(32)
    return _secret


def _sign(body: bytes) -> str:
    return _b64(hmac.new(_key(), body, hashlib.sha256).digest())


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def fingerprint(key_hash: str) -> str:
    """What the cookie holds of a key: an HMAC of the hash the store keeps."""
    mac = hmac.new(_key(), b"key:" + key_hash.encode(), hashlib.sha256)
    return mac.hexdigest()[:32]


@dataclass
class Session:
    """One browser's session; ``changed`` ones are written back with the answer."""

    csrf: str
    #: The signed-in key's name; ``None`` before sign-in.
    name: str | None = None
    fingerprint: str | None = None
    #: Unix seconds when the sign-in ends.
    expires: float = 0.0
    #: A message for the next page: ``(kind, text)``, kind ``ok`` or ``error``.
    flash: tuple[str, str] | None = None
    changed: bool = False

    @classmethod
    def fresh(cls) -> Session:
        """An anonymous session with a new CSRF token."""
        return cls(csrf=secrets.token_urlsafe(24), changed=True)

    @classmethod
    def load(cls, request: Request) -> Session:
        """The request's session; a fresh one when the cookie is missing,
        tampered with or expired."""
        raw = request.cookies.get(COOKIE, "")
        body_text, _, mac = raw.partition(".")
        try:
            body = _unb64(body_text)
            if not body or not hmac.compare_digest(_sign(body), mac):
                return cls.fresh()
            data: dict[str, Any] = json.loads(body)
            session = cls(
                csrf=str(data["c"]),
                name=data.get("n"),
                fingerprint=data.get("f"),
                expires=float(data.get("e") or 0),
                flash=tuple(data["m"]) if data.get("m") else None,  # type: ignore[arg-type]
            )
        except (binascii.Error, ValueError, KeyError, TypeError):
            return cls.fresh()
        if session.name is not None and session.expires < time.time():
            return cls.fresh()
        return session

    def sign_in(self, name: str, key_hash: str) -> None:
        """Start a sign-in; the CSRF token is renewed (no fixation)."""
        self.csrf = secrets.token_urlsafe(24)
        self.name = name
        self.fingerprint = fingerprint(key_hash)
        self.expires = time.time() + LIFETIME
        self.changed = True

    def say(self, kind: str, text: str) -> None:
        """Show ``text`` on the next page (cut to fit a cookie)."""
        self.flash = (kind, text[:400])
        self.changed = True

    def take_flash(self) -> tuple[str, str] | None:
        """The message for this page, which is then forgotten."""
        found, self.flash = self.flash, None
        if found is not None:
            self.changed = True
        return found

    def save(self, request: Request, response: Response) -> None:
        """Write the cookie when something changed."""
        if not self.changed:
            return
        data = {"c": self.csrf, "n": self.name, "f": self.fingerprint, "e": self.expires}
        if self.flash:
            data["m"] = list(self.flash)
        body = json.dumps(data, separators=(",", ":")).encode()
        response.set_cookie(
            COOKIE,
            f"{_b64(body)}.{_sign(body)}",
            path="/ui",
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )

    @staticmethod
    def clear(response: Response) -> None:
        """Sign out: the browser forgets the cookie."""
        response.delete_cookie(COOKIE, path="/ui", httponly=True, samesite="strict")


def check_csrf(session: Session, form: dict[str, str]) -> bool:
    """True when the form carries this session's CSRF token."""
    given = form.get("csrf", "")
    return bool(given) and hmac.compare_digest(given.encode(), session.csrf.encode())
