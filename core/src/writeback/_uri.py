"""Connector URIs: what can be sent, and how one is printed.

A URI is checked when a row is validated, so that what passes can be sent by
every transport (httpx, requests) instead of failing each attempt.  Wherever
a URI is printed or logged, user-info and secret-looking query parameters are
masked: rows stored before user-info was refused print masked too.
"""

from __future__ import annotations

import ipaddress
import logging
import re
import unicodedata
from urllib.parse import unquote_plus, urlsplit

from ._redaction import MASK

__all__ = [
    "MAX_URI_LENGTH",
    "SECRET_PARAMETERS",
    "UriMaskingFilter",
    "mask_uri",
    "mask_uris_in_text",
    "uri_problem",
    "uri_secrets",
]

MAX_URI_LENGTH = 2048
#: Query (and fragment) parameters whose values are masked, compared in lower case;
#: so is any parameter whose name ends in ``token``, ``secret``, ``password`` or ``key``.
SECRET_PARAMETERS = frozenset(
    {"access_token", "api_key", "apikey", "auth", "code", "key", "password", "pwd"}
    | {"secret", "sig", "signature", "token", "client_secret", "refresh_token", "id_token"}
)
_SECRET_SUFFIXES = ("token", "secret", "password", "key")

_AUTHORITY_END = re.compile(r"[/?#]")
_HOST = re.compile(r"^[A-Za-z0-9._~-]+$")
_URL_IN_TEXT = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s'\"<>]+")


def _secret_parameter(name: str) -> bool:
    lowered = unquote_plus(name).strip().lower()
    return lowered in SECRET_PARAMETERS or lowered.endswith(_SECRET_SUFFIXES)


def _mask_parameters(text: str) -> str:
    pieces = []
    for piece in text.split("&"):
        name, eq, value = piece.partition("=")
        pieces.append(f"{name}={MASK}" if eq and value and _secret_parameter(name) else piece)
    return "&".join(pieces)


def _split(uri: str) -> tuple[str, str, str, str | None, str | None] | None:
    """``(scheme://, authority, path, query, fragment)`` as written (query and
    fragment None when absent), or None for text that is no URI."""
    start = uri.find("://")
    if start <= 0:
        return None
    start += 3
    end = _AUTHORITY_END.search(uri, start)
    cut = end.start() if end else len(uri)
    rest, hash_, fragment = uri[cut:].partition("#")
    path, mark, query = rest.partition("?")
    return uri[:start], uri[start:cut], path, query if mark else None, fragment if hash_ else None


def mask_uri(uri: str) -> str:
    """``uri`` fit to print: user-info as ``***@`` and secret-looking parameters as
    ``name=***``; everything else as written.  Never raises."""
    if not isinstance(uri, str):
        return uri
    split = _split(uri)
    if split is None:
        return uri
    scheme, authority, path, query, fragment = split
    if "@" in authority:
        authority = f"{MASK}@{authority.rpartition('@')[2]}"
    text = scheme + authority + path
    if query is not None:
        text += "?" + _mask_parameters(query)
    if fragment is not None:
        text += "#" + _mask_parameters(fragment)
    return text


def mask_uris_in_text(text: str) -> str:
    """``text`` with every URI in it masked (for log records)."""
    return _URL_IN_TEXT.sub(lambda m: mask_uri(m.group()), text)


def uri_secrets(uri: str) -> list[str]:
    """The secret parts of ``uri`` (user-info, secret-looking parameter values), as
    written and decoded, for the redactor to remove from error texts and logs."""
    split = _split(uri)
    if split is None:
        return []
    _, authority, _, query, fragment = split
    found = []
    if "@" in authority:
        found += [p for p in authority.rpartition("@")[0].split(":") if p]
    for text in (query or "", fragment or ""):
        for piece in text.split("&"):
            name, eq, value = piece.partition("=")
            if eq and value and _secret_parameter(name):
                found += [value, unquote_plus(value)]
    return list(dict.fromkeys(found))


def _bad_character(uri: str) -> tuple[int, str] | None:
    for index, char in enumerate(uri):
        if char.isspace() or unicodedata.category(char) == "Cc":
            return index, char
    return None


def uri_problem(uri: str) -> str | None:
    """Why ``uri`` cannot be sent (a clause to follow the quoted URI), or None."""
    if len(uri) > MAX_URI_LENGTH:
        return f"is {len(uri)} characters long; give at most {MAX_URI_LENGTH}"
    bad = _bad_character(uri)
    if bad is not None:
        return (
            f"holds a control character or space ({bad[1]!r} at position {bad[0] + 1}); "
            "percent-encode it (a space is %20) or remove it"
        )
    try:
        parts = urlsplit(uri)
    except ValueError:
        parts = None
    if parts is None or parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return "is not an http:// or https:// address with a host"
    if "@" in parts.netloc:
        return (
            "holds a user name or password; remove them from it and give the "
            "credentials in auth (for example method basic)"
        )
    host_problem = _host_problem(parts.hostname)
    if host_problem is not None:
        return host_problem
    try:
        port = parts.port
    except ValueError:
        port = -1
    if port is not None and not 1 <= port <= 65535:
        written = parts.netloc.rpartition(":")[2]
        return f"has port {written[:10]!r}; give a port from 1 to 65535, or none"
    return None


def _host_problem(host: str) -> str | None:
    if ":" in host:
        try:
            ipaddress.IPv6Address(host.partition("%")[0])
        except ValueError:
            return f"has host {host[:60]!r}, which is not an IPv6 address"
        return None
    try:
        # An internationalised name is sent in its ASCII (punycode) form.
        ascii_host = host if host.isascii() else host.encode("idna").decode("ascii")
    except UnicodeError:
        ascii_host = ""
    if _HOST.match(ascii_host):
        return None
    return f"has host {host[:60]!r}; a host holds letters, digits, '-' and '.', or is an IP address"


class UriMaskingFilter(logging.Filter):
    """A logging filter that masks every URI in the records it passes (httpx logs
    each request's URL at debug level)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask_uris_in_text(message)
        if masked != message:
            record.msg, record.args = masked, None
        return True
