"""A throwaway MIT Kerberos realm on 127.0.0.1, for Negotiate tests.

:class:`TestKdc` creates a realm database in a temporary folder, adds users and
``HTTP/127.0.0.1`` / ``HTTP/localhost`` service principals, exports the service
keys to a keytab and runs ``krb5kdc -n`` on a free loopback port.  Everything a
Kerberos library needs to find it is in :attr:`TestKdc.env` (``KRB5_CONFIG``,
``KRB5_KDC_PROFILE``, ``KRB5_KTNAME``, ``KRB5CCNAME``): give it to
subprocesses explicitly, or :meth:`TestKdc.activate` it in this process.

The generated ``krb5.conf`` turns off DNS lookups and host name
canonicalisation, so the service principal is exactly ``HTTP/<host as
written>``; it also names the keytab (``default_keytab_name``), so an acceptor
finds its keys from ``KRB5_CONFIG`` alone.  A second realm, :attr:`down_realm`,
points at a port nobody listens on: a KDC that does not answer.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from types import TracebackType
    from typing import Self

__all__ = ["KdcUnavailableError", "TestKdc", "kdc_missing_reason"]

#: The MIT programs a realm needs (Debian: krb5-kdc, krb5-admin-server).
PROGRAMS = ("krb5kdc", "kdb5_util", "kadmin.local")
_SBIN = ("/usr/sbin", "/usr/local/sbin", "/sbin")
#: How long ``start()`` waits for the KDC to listen.
_START_TIMEOUT = 10.0


class KdcUnavailableError(RuntimeError):
    """The MIT KDC programs are missing or the KDC did not start."""


def _which(program: str) -> str | None:
    path = os.pathsep.join([os.environ.get("PATH", ""), *_SBIN])
    return shutil.which(program, path=path)


def kdc_missing_reason() -> str | None:
    """Why a KDC cannot be started here (a missing program), or None when it can."""
    missing = [p for p in PROGRAMS if _which(p) is None]
    if missing:
        return (
            f"MIT Kerberos KDC programs not found ({', '.join(missing)}); "
            "install krb5-kdc and krb5-admin-server"
        )
    return None


def _free_port() -> int:
    # The KDC listens on UDP and TCP: a port free for both, bound and released.
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
            tcp.bind(("127.0.0.1", 0))
            port = int(tcp.getsockname()[1])
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                try:
                    udp.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port
    raise KdcUnavailableError("no free loopback port for the KDC")


class TestKdc:
    """One MIT realm (default ``WRITEBACK.TEST``) served by ``krb5kdc`` on loopback.

    ``users`` maps a user name (without realm) to its password. Use as a
    context manager, or call :meth:`start` and :meth:`stop`.
    """

    __test__ = False  # not a pytest test class, despite the name

    def __init__(
        self,
        users: Mapping[str, str] | None = None,
        *,
        realm: str = "WRITEBACK.TEST",
        services: tuple[str, ...] = ("HTTP/127.0.0.1", "HTTP/localhost"),
        directory: Path | None = None,
    ) -> None:
        self.realm = realm
        self.down_realm = "DOWN." + realm
        self.users = dict(users or {"alice": "Wonder-Land-42"})
        self.services = services
        self._own_dir = directory is None
        self.directory = Path(directory or tempfile.mkdtemp(prefix="wb-kdc-"))
        self.port = 0
        self._process: subprocess.Popen[bytes] | None = None
        self._saved_env: dict[str, str | None] | None = None

    # -- paths and environment ------------------------------------------------

    @property
    def krb5_conf(self) -> Path:
        return self.directory / "krb5.conf"

    @property
    def keytab(self) -> Path:
        """The service keys (``HTTP/127.0.0.1``, ``HTTP/localhost``) for acceptors."""
        return self.directory / "http.keytab"

    @property
    def env(self) -> dict[str, str]:
        """Variables that point Kerberos libraries and tools at this realm."""
        return {
            "KRB5_CONFIG": str(self.krb5_conf),
            "KRB5_KDC_PROFILE": str(self.directory / "kdc.conf"),
            "KRB5_KTNAME": f"FILE:{self.keytab}",
            "KRB5CCNAME": f"FILE:{self.directory / 'ccache'}",
            # A stray client keytab must not stand in for a password.
            "KRB5_CLIENT_KTNAME": f"FILE:{self.directory / 'no-client.keytab'}",
        }

    def principal(self, user: str) -> str:
        """``user@REALM``."""
        return f"{user}@{self.realm}"

    # -- life cycle --------------------------------------------------------------

    def start(self) -> Self:
        """Create the realm and start the KDC; returns ``self`` (~0.3 s).

        :raises KdcUnavailableError: when a program is missing or the KDC does not listen.
        """
        reason = kdc_missing_reason()
        if reason:
            raise KdcUnavailableError(reason)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.port = _free_port()
        self._write_config()
        master = "wb-kdc-master-" + os.urandom(6).hex()
        self._run("kdb5_util", "create", "-s", "-r", self.realm, "-P", master)
        commands = [f"addprinc -pw {pw} {self.principal(u)}" for u, pw in self.users.items()]
        commands += [f"addprinc -randkey {s}@{self.realm}" for s in self.services]
        commands.append(
            f"ktadd -k {self.keytab} " + " ".join(f"{s}@{self.realm}" for s in self.services)
        )
        self._kadmin(commands)
        log = open(self.directory / "krb5kdc.out", "wb")  # noqa: SIM115 (kept for the process)
        self._process = subprocess.Popen(
            [self._program("krb5kdc"), "-n", "-r", self.realm],
            env=self._tool_env(),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        self._wait_listening()
        return self

    def stop(self) -> None:
        """Stop the KDC, undo :meth:`activate` and remove the folder; idempotent."""
        self.deactivate()
        process, self._process = self._process, None
        if process is not None:
            process.terminate()
            try:
                process.wait(5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)
        if self._own_dir:
            shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def add_user(self, user: str, password: str) -> str:
        """Add a user to the running realm; returns ``user@REALM``."""
        self._kadmin([f"addprinc -pw {password} {self.principal(user)}"])
        self.users[user] = password
        return self.principal(user)

    def activate(self) -> None:
        """Set :attr:`env` in ``os.environ`` (Kerberos reads it per call); undone by stop()."""
        if self._saved_env is None:
            self._saved_env = {name: os.environ.get(name) for name in self.env}
        os.environ.update(self.env)

    def deactivate(self) -> None:
        saved, self._saved_env = self._saved_env, None
        for name, value in (saved or {}).items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value

    @contextlib.contextmanager
    def activated(self) -> Iterator[Self]:
        """``with kdc.activated():`` this process uses the realm inside the block."""
        self.activate()
        try:
            yield self
        finally:
            self.deactivate()

    # -- helpers -------------------------------------------------------------------

    def _write_config(self) -> None:
        d = self.directory
        # One port from a closed socket nobody listens on: the "KDC does not answer" realm.
        down_port = _free_port()
        self.krb5_conf.write_text(
            "[libdefaults]\n"
            f"  default_realm = {self.realm}\n"
            "  dns_lookup_kdc = false\n"
            "  dns_lookup_realm = false\n"
            "  dns_canonicalize_hostname = false\n"
            "  rdns = false\n"
            "  ignore_acceptor_hostname = false\n"
            f"  default_keytab_name = FILE:{self.keytab}\n"
            "  udp_preference_limit = 1\n"
            "  kdc_timeout = 2000\n"
            "  max_retries = 1\n"
            "[realms]\n"
            f"  {self.realm} = {{\n    kdc = 127.0.0.1:{self.port}\n  }}\n"
            f"  {self.down_realm} = {{\n    kdc = 127.0.0.1:{down_port}\n  }}\n"
        )
        (d / "kdc.conf").write_text(
            "[kdcdefaults]\n"
            f"  kdc_listen = 127.0.0.1:{self.port}\n"
            f"  kdc_tcp_listen = 127.0.0.1:{self.port}\n"
            "[realms]\n"
            f"  {self.realm} = {{\n"
            f"    database_name = {d / 'principal'}\n"
            f"    key_stash_file = {d / 'stash'}\n"
            f"    acl_file = {d / 'kadm5.acl'}\n"
            "    supported_enctypes = aes256-cts-hmac-sha1-96:normal"
            " aes128-cts-hmac-sha1-96:normal\n"
            "    max_life = 10h\n"
            "  }\n"
            "[logging]\n"
            f"  kdc = FILE:{d / 'kdc.log'}\n"
        )
        (d / "kadm5.acl").write_text("")

    def _tool_env(self) -> dict[str, str]:
        return {**os.environ, **self.env}

    def _program(self, name: str) -> str:
        found = _which(name)
        if found is None:
            raise KdcUnavailableError(f"{name} not found")
        return found

    def _run(self, program: str, *args: str, stdin: str | None = None) -> None:
        done = subprocess.run(
            [self._program(program), *args],
            env=self._tool_env(),
            input=stdin.encode() if stdin is not None else None,
            capture_output=True,
            timeout=30,
            check=False,
        )
        if done.returncode != 0 or b"error" in done.stderr.lower():
            text = (done.stdout + done.stderr).decode(errors="replace").strip()
            raise KdcUnavailableError(f"{program} {args[0] if args else ''} failed: {text}")

    def _kadmin(self, commands: list[str]) -> None:
        # One kadmin.local reading commands from stdin: one process for all of them.
        self._run("kadmin.local", "-r", self.realm, stdin="\n".join(commands) + "\n")

    def _wait_listening(self) -> None:
        deadline = time.monotonic() + _START_TIMEOUT
        while time.monotonic() < deadline:
            if self._process is not None and self._process.poll() is not None:
                out = (self.directory / "krb5kdc.out").read_text(errors="replace")
                raise KdcUnavailableError(f"krb5kdc exited ({self._process.returncode}): {out}")
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5),
            ):
                return
            time.sleep(0.01)
        self.stop()
        raise KdcUnavailableError(f"krb5kdc did not listen on port {self.port}")
