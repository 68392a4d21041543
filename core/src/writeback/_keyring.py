"""Where the keys for secrets at rest come from: the environment or a key file.

Several keys may be configured at once, so that a key can be replaced without
stopping anything (docs/security.md, "Rotating the key"):

- ``WRITEBACK_SECRET_KEY`` holds one Fernet key or several separated by commas;
- the key file beside a SQLite database holds one key per line.

The first key encrypts; every key decrypts.  A key that is not a Fernet key is
refused naming where it is (``WRITEBACK_SECRET_KEY`` item 2, a file's line 3),
never printing it.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

from ._errors import SecretKeyError

__all__ = [
    "KEY_ENV",
    "create_key_file",
    "env_keys",
    "generate_key",
    "parse_keys",
    "read_key_file",
    "write_key_file",
]

KEY_ENV = "WRITEBACK_SECRET_KEY"
_MAKE_ONE = "make one with: writeback keys generate"


def generate_key() -> bytes:
    """A new random Fernet key (URL-safe base64 text, as bytes)."""
    from cryptography.fernet import Fernet

    return Fernet.generate_key()


def _is_fernet_key(key: bytes) -> bool:
    from cryptography.fernet import Fernet

    try:
        Fernet(key)
    except (ValueError, TypeError):
        return False
    return True


def parse_keys(items: Sequence[str], where: str, unit: str) -> list[bytes]:
    """The keys ``items`` hold, each checked to be a Fernet key.

    :param where: how the user names the source (``WRITEBACK_SECRET_KEY``, ``the key file …``).
    :param unit: what one item is called there (``item``, ``line``), for the error.
    :raises SecretKeyError: for no key, or an item that is not a Fernet key
        (named by its position, never shown).
    """
    keys = [item.strip().encode("utf-8", "surrogateescape") for item in items]
    if not keys or not any(keys):
        raise SecretKeyError(f"{where} holds no key; {_MAKE_ONE}.")
    for position, key in enumerate(keys, 1):
        if not _is_fernet_key(key):
            at = f" {unit} {position} of {len(keys)}" if len(keys) > 1 else ""
            what = "is empty" if not key else "is not a valid Fernet key"
            raise SecretKeyError(
                f"{where}{at} {what} (a Fernet key is 32 bytes in URL-safe base64, "
                f"44 characters); {_MAKE_ONE}."
            )
    return keys


def env_keys() -> list[bytes] | None:
    """The keys in ``WRITEBACK_SECRET_KEY``, the one that encrypts first; ``None``
    when it is unset or empty.

    :raises SecretKeyError: when an item is not a Fernet key.
    """
    text = os.environ.get(KEY_ENV, "").strip()
    if not text:
        return None
    return parse_keys(text.split(","), KEY_ENV, "item")


def read_key_file(key_file: Path) -> list[bytes] | None:
    """The keys in ``key_file``, one a line (blank lines skipped); ``None`` when there is no file.

    :raises SecretKeyError: when it cannot be read, holds no key, or a line is
        not a Fernet key.
    """
    try:
        text = key_file.read_bytes().decode("utf-8", "surrogateescape")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise SecretKeyError(
            f"the key file {key_file} cannot be read ({exc.strerror}); give this user read "
            f"access to it, or set {KEY_ENV}."
        ) from None
    # A key file appears whole (create_key_file, write_key_file): an empty one was emptied by hand.
    lines = [line for line in text.splitlines() if line.strip()]
    return parse_keys(lines, f"the key file {key_file}", "line")


def _write_private(folder: Path, name: str, content: bytes) -> str:
    """A new private (0600) temporary file in ``folder`` holding ``content``, on disk."""
    fd, temp = tempfile.mkstemp(prefix=f".{name}.", dir=folder)  # mode 0600
    with os.fdopen(fd, "wb") as handle:
        handle.write(content)
        handle.flush()
        os.fsync(handle.fileno())
    return temp


def create_key_file(key_file: Path) -> bytes:
    """Make a new key in ``key_file``, unless another process did first: the key it holds.

    The key is written whole to a private temporary file, which is then linked
    to its name: of several processes opening a new database at once, exactly
    one link succeeds, and the others read a complete key, never an empty file.
    """
    key = generate_key()
    key_file.parent.mkdir(parents=True, exist_ok=True)
    temp = _write_private(key_file.parent, key_file.name, key + b"\n")
    try:
        while True:
            try:
                os.link(temp, key_file)
            except FileExistsError:
                found = read_key_file(key_file)
                if found is not None:
                    return found[0]
                continue  # removed again in between: try once more to be the one
            return key
    finally:
        os.unlink(temp)


def write_key_file(key_file: Path, keys: Sequence[bytes]) -> None:
    """Replace ``key_file`` with ``keys``, one a line, at once: a reader sees the
    old file or the new one, whole, never a part (private temporary, then rename)."""
    temp = _write_private(key_file.parent, key_file.name, b"".join(k + b"\n" for k in keys))
    try:
        os.replace(temp, key_file)
    except BaseException:
        os.unlink(temp)
        raise
    # The rename itself reaches the disk only with the folder.
    folder = os.open(key_file.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)
