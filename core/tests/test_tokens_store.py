"""Tokens shared through the database: one token request per lifetime across processes.

Each test runs on a SQLite file and on a fresh PostgreSQL database.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import threading
import time
import urllib.request
from pathlib import Path

import pytest
from sqlalchemy import select
from writeback.plugin import Token, TokenSource
from writeback.store import Store
from writeback.store._schema import tokens
from writeback_testing.oauth2_server import OAuth2Server

KEY = "hook|oauth2|0123456789abcdef"


class Counting:
    def __init__(self, lifetime: float = 3600.0) -> None:
        self.calls = 0
        self.lifetime = lifetime
        self.hold = threading.Event()
        self.hold.set()
        self.started = threading.Event()

    def __call__(self) -> Token:
        self.calls += 1
        self.started.set()
        assert self.hold.wait(10)
        now = time.time()
        return Token(
            access_token=f"secret-token-{self.calls}",
            obtained_at=now,
            expires_at=now + self.lifetime,
        )


@pytest.fixture
def stores(writeback_any_db_url: str):
    """Two stores on one database: two processes' views, each with its own engine."""
    opened = [Store.open(writeback_any_db_url), Store.open(writeback_any_db_url)]
    yield opened
    for store in opened:
        store.close()


def test_a_second_source_reads_the_stored_token_instead_of_fetching(stores):
    fetch = Counting()
    first = TokenSource(fetch, key=KEY, store=stores[0].tokens).get()
    second = TokenSource(fetch, key=KEY, store=stores[1].tokens).get()
    assert second.access_token == first.access_token == "secret-token-1"
    assert second.generation == first.generation == 1
    assert fetch.calls == 1


def test_the_token_is_encrypted_at_rest(stores):
    TokenSource(Counting(), key=KEY, store=stores[0].tokens).get()
    with stores[0].engine.connect() as conn:
        row = conn.execute(select(tokens)).one()
    assert "secret-token" not in json.dumps([str(v) for v in row])
    assert row.lease_owner is None and row.generation == 1


def test_while_one_process_fetches_the_other_waits_for_its_token(stores):
    fetch = Counting()
    fetch.hold.clear()
    a = TokenSource(fetch, key=KEY, store=stores[0].tokens)
    b = TokenSource(fetch, key=KEY, store=stores[1].tokens)
    got: list[str] = []
    leader = threading.Thread(target=lambda: got.append(a.get().access_token))
    leader.start()
    assert fetch.started.wait(5)
    follower = threading.Thread(target=lambda: got.append(b.get().access_token))
    follower.start()
    time.sleep(0.1)  # the follower is now polling the leased row
    fetch.hold.set()
    leader.join(10)
    follower.join(10)
    assert got == ["secret-token-1", "secret-token-1"] and fetch.calls == 1


def test_a_401_invalidates_the_shared_token_once(stores):
    fetch = Counting()
    a = TokenSource(fetch, key=KEY, store=stores[0].tokens)
    b = TokenSource(fetch, key=KEY, store=stores[1].tokens)
    old = a.get()
    assert b.get() == old
    assert a.invalidate(old) and b.invalidate(old)  # both got a 401 for it
    assert a.get().access_token == "secret-token-2"
    assert b.get().access_token == "secret-token-2"
    assert fetch.calls == 2


def test_a_failed_fetch_releases_the_lease(stores):
    from writeback.plugin import AttemptError
    from writeback.tokens import token_http_error

    calls = []

    def failing() -> Token:
        calls.append(1)
        raise token_http_error(500, url="http://h/t")

    with pytest.raises(AttemptError):
        TokenSource(failing, key=KEY, store=stores[0].tokens).get()
    fetch = Counting()
    assert TokenSource(fetch, key=KEY, store=stores[1].tokens).get().access_token
    assert fetch.calls == 1 and calls == [1]


WORKER = textwrap.dedent(
    """
    import hashlib, json, os, sys, time, urllib.parse, urllib.request
    from pathlib import Path
    from writeback import Token, TokenSource
    from writeback.store import Store

    db, token_url, go = sys.argv[1:4]
    store = Store.open(db)

    def fetch():
        body = urllib.parse.urlencode({"grant_type": "client_credentials",
                                       "client_id": "wb", "client_secret": "pw"}).encode()
        with urllib.request.urlopen(token_url, body, timeout=10) as answer:
            return Token.from_response(json.load(answer))

    source = TokenSource(fetch, key="hook|oauth2|x", store=store.tokens)
    while not Path(go).exists():
        time.sleep(0.005)
    token = source.get()
    print(hashlib.sha256(token.access_token.encode()).hexdigest(), source.requests)
    store.close()
    """
)


def test_two_processes_make_one_token_request(writeback_any_db_url: str, tmp_path: Path):
    Store.open(writeback_any_db_url).close()  # migrated before the race starts
    go = tmp_path / "go"
    with OAuth2Server(delay=0.3) as server:
        server.register("wb", "pw", method="client_secret_post")
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", WORKER, writeback_any_db_url, server.token_url, str(go)],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(2)
        ]
        time.sleep(0.5)  # both interpreters up and waiting for the go file
        go.touch()
        outputs = [p.communicate(timeout=60) for p in procs]
        assert [p.returncode for p in procs] == [0, 0], outputs
        hashes = {out.split()[0] for out, _ in outputs}
        requests = sorted(int(out.split()[1]) for out, _ in outputs)
        assert len(hashes) == 1  # the same token in both processes
        assert requests == [0, 1]
        assert server.token_requests == 1


def test_the_token_endpoint_is_a_real_one(writeback_oauth2_server: OAuth2Server):
    """The worker script above talks to the simulator the way a client_secret_post client does."""
    writeback_oauth2_server.register("wb", "pw", method="client_secret_post")
    body = b"grant_type=client_credentials&client_id=wb&client_secret=pw"
    with urllib.request.urlopen(writeback_oauth2_server.token_url, body, timeout=5) as answer:
        token = Token.from_response(json.load(answer))
    assert writeback_oauth2_server.principal(token.access_token) == "wb"
