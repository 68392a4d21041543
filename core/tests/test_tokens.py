"""The token source: leeway, single-flight across tasks and threads, 401 compare-and-swap,
failures, and error codes.  (Sharing through the database: test_tokens_store.py.)"""

from __future__ import annotations

import asyncio
import ssl
import threading
import time
from collections.abc import Callable

import pytest
from writeback.plugin import AttemptError, Token, TokenSource
from writeback.tokens import (
    DEFAULT_LIFETIME,
    bad_token_answer,
    leeway_for,
    token_answer_too_long,
    token_connection_error,
    token_deadline,
    token_error_from_cause,
    token_http_error,
    token_oauth_error,
    token_redirected,
    token_timeout,
    token_tls_error,
)


def make_token(lifetime: float = 3600.0, *, age: float = 0.0, value: str = "tok") -> Token:
    now = time.time() - age
    return Token(access_token=value, obtained_at=now, expires_at=now + lifetime, scope="s")


class Fetcher:
    """A fetch function that counts calls, can be held open, and fails on demand."""

    def __init__(self, lifetime: float = 3600.0, *, age: float = 0.0) -> None:
        self.calls = 0
        self.lifetime = lifetime
        self.age = age
        self.release = threading.Event()
        self.release.set()
        self.started = threading.Event()
        self.errors: list[BaseException] = []
        self._lock = threading.Lock()

    def __call__(self) -> Token:
        with self._lock:
            self.calls += 1
            n = self.calls
        self.started.set()
        assert self.release.wait(10), "the test never released the fetch"
        if self.errors:
            raise self.errors.pop(0)
        return make_token(self.lifetime, age=self.age, value=f"tok-{n}")


@pytest.mark.parametrize(
    ("lifetime", "leeway"), [(3600, 60), (600, 60), (300, 30), (60, 6), (30, 3), (5, 0.5)]
)
def test_leeway_is_a_tenth_of_the_lifetime_at_most_a_minute(lifetime: float, leeway: float):
    assert leeway_for(lifetime) == pytest.approx(leeway)
    token = make_token(lifetime)
    assert token.refresh_at == pytest.approx(token.expires_at - leeway)
    assert token.refresh_at < token.usable_until < token.expires_at


def test_a_short_lived_token_is_reused_not_fetched_per_request():
    fetch = Fetcher(lifetime=30)  # authlib's 60 s leeway would fetch this every time
    source = TokenSource(fetch, key="k")
    tokens = {source.get().access_token for _ in range(200)}
    assert tokens == {"tok-1"} and fetch.calls == 1


def test_a_token_inside_its_leeway_is_refreshed_once():
    fetch = Fetcher(lifetime=30)
    source = TokenSource(fetch, key="k")
    assert source.get().access_token == "tok-1"
    fetch.age = 28  # the next token is already 2 s from expiry: inside the 3 s leeway
    with source._lock:
        source._token = make_token(30, age=28, value="old")
    assert source.get().access_token == "tok-2"
    assert fetch.calls == 2


def test_fifty_tasks_make_one_token_request():
    fetch = Fetcher()
    fetch.release.clear()
    source = TokenSource(fetch, key="k")

    async def main() -> list[Token]:
        tasks = [asyncio.create_task(source.aget()) for _ in range(50)]
        await asyncio.to_thread(fetch.started.wait, 5)
        await asyncio.sleep(0.05)  # let every task reach the flight before it lands
        fetch.release.set()
        return await asyncio.gather(*tasks)

    tokens = asyncio.run(main())
    assert {t.access_token for t in tokens} == {"tok-1"}
    assert fetch.calls == 1 and source.requests == 1


def test_fifty_threads_make_one_token_request():
    fetch = Fetcher()
    fetch.release.clear()
    source = TokenSource(fetch, key="k")
    got: list[str] = []
    barrier = threading.Barrier(50)

    def work() -> None:
        barrier.wait()
        got.append(source.get().access_token)

    threads = [threading.Thread(target=work) for _ in range(50)]
    for t in threads:
        t.start()
    assert fetch.started.wait(5)
    time.sleep(0.05)  # let every thread reach the flight before it lands
    fetch.release.set()
    for t in threads:
        t.join(10)
    assert got == ["tok-1"] * 50 and fetch.calls == 1


def test_tasks_and_threads_share_one_flight():
    fetch = Fetcher()
    fetch.release.clear()
    source = TokenSource(fetch, key="k")
    from_threads: list[str] = []
    threads = [
        threading.Thread(target=lambda: from_threads.append(source.get().access_token))
        for _ in range(10)
    ]

    async def main() -> list[Token]:
        tasks = [asyncio.create_task(source.aget()) for _ in range(10)]
        await asyncio.to_thread(fetch.started.wait, 5)
        for t in threads:
            t.start()
        await asyncio.sleep(0.05)
        fetch.release.set()
        return await asyncio.gather(*tasks)

    tokens = asyncio.run(main())
    for t in threads:
        t.join(10)
    assert {t.access_token for t in tokens} | set(from_threads) == {"tok-1"}
    assert fetch.calls == 1


def test_while_refreshing_others_keep_using_the_still_valid_token():
    fetch = Fetcher()
    source = TokenSource(fetch, key="k")
    with source._lock:
        source._token = make_token(3600, age=3600 - 50, value="old")  # 50 s left: refresh due
    fetch.release.clear()
    leader = threading.Thread(target=source.get)
    leader.start()
    assert fetch.started.wait(5)
    assert source.get().access_token == "old"  # no waiting behind the refresh
    fetch.release.set()
    leader.join(10)
    assert source.get().access_token == "tok-1" and fetch.calls == 1


def test_fifty_401s_for_one_token_make_one_new_token():
    fetch = Fetcher()
    source = TokenSource(fetch, key="k")
    first = source.get()

    async def main() -> list[bool]:
        return await asyncio.gather(
            *(asyncio.to_thread(source.invalidate, first) for _ in range(50))
        )

    assert all(asyncio.run(main()))
    tokens = {source.get().access_token for _ in range(20)}
    assert tokens == {"tok-2"} and fetch.calls == 2


def test_a_late_401_for_a_replaced_token_leaves_the_new_one_alone():
    fetch = Fetcher()
    source = TokenSource(fetch, key="k")
    old = source.get()
    source.invalidate(old)
    new = source.get()
    assert source.invalidate(old) is True  # worth resending: the current token differs
    assert source.peek() == new and source.get() is new and fetch.calls == 2


def test_a_failed_request_reaches_every_waiter_and_is_held_briefly():
    fetch = Fetcher()
    fetch.errors = [token_oauth_error("invalid_client", None, url="http://h/t", client_id="c")]
    fetch.release.clear()
    source = TokenSource(fetch, key="k", failure_hold=60)

    async def main() -> list[BaseException | Token]:
        tasks = [asyncio.create_task(source.aget()) for _ in range(20)]
        await asyncio.to_thread(fetch.started.wait, 5)
        await asyncio.sleep(0.05)
        fetch.release.set()
        return await asyncio.gather(*tasks, return_exceptions=True)

    results = asyncio.run(main())
    assert all(isinstance(r, AttemptError) and r.code == "WB-310" for r in results)
    assert len({id(r) for r in results}) == 20  # each waiter raises its own copy
    with pytest.raises(AttemptError, match="WB-310"):
        source.get()  # held: no second request within failure_hold
    assert fetch.calls == 1


def test_after_the_hold_a_failure_is_asked_again():
    fetch = Fetcher()
    fetch.errors = [token_http_error(503, url="http://h/t")]
    source = TokenSource(fetch, key="k", failure_hold=0)
    with pytest.raises(AttemptError) as caught:
        source.get()
    assert caught.value.retryable and caught.value.code == "WB-313"
    assert source.get().access_token == "tok-2"


def test_an_unexpected_exception_becomes_wb319():
    fetch = Fetcher()
    fetch.errors = [KeyError("boom")]
    source = TokenSource(fetch, key="k")
    with pytest.raises(AttemptError) as caught:
        source.get()
    assert caught.value.code == "WB-319" and not caught.value.retryable


def test_repr_never_shows_the_token():
    token = make_token(value="s3cr3t-access-token")
    assert "s3cr3t" not in repr(token) and "s3cr3t" not in str(token)
    assert "***" in repr(token)


def test_from_response():
    token = Token.from_response(
        {"access_token": "a", "token_type": "bearer", "expires_in": "120"}, now=1000.0
    )
    assert (token.expires_at, token.token_type, token.scope) == (1120.0, "Bearer", None)
    assert Token.from_response({"access_token": "a"}, requested_scope="x", now=0).scope == "x"
    assert Token.from_response({"access_token": "a"}, now=0).lifetime == DEFAULT_LIFETIME
    for bad, why in [
        ({}, "no access_token"),
        ({"access_token": "a", "token_type": "mac"}, "only Bearer"),
        ({"access_token": "a", "expires_in": "soon"}, "not a number"),
    ]:
        with pytest.raises(ValueError, match=why):
            Token.from_response(bad)


@pytest.mark.parametrize(
    ("make", "code", "retryable"),
    [
        (
            lambda: token_oauth_error("invalid_client", "x", url="https://h/t", client_id="c"),
            "WB-310",
            False,
        ),
        (
            lambda: token_oauth_error(
                "unauthorized_client", None, url="https://h/t", client_id="c"
            ),
            "WB-310",
            False,
        ),
        (
            lambda: token_oauth_error("invalid_scope", None, url="https://h/t", client_id="c"),
            "WB-311",
            False,
        ),
        (
            lambda: token_oauth_error("invalid_request", None, url="https://h/t", client_id="c"),
            "WB-312",
            False,
        ),
        (
            lambda: token_oauth_error(
                "server_error", None, url="https://h/t", client_id="c", status=503
            ),
            "WB-313",
            True,
        ),
        (
            lambda: token_oauth_error(
                "temporarily_unavailable", None, url="https://h/t", client_id="c", status=429
            ),
            "WB-313",
            True,
        ),
        (lambda: token_http_error(404, url="https://h/t"), "WB-312", False),
        (lambda: token_http_error(502, url="https://h/t"), "WB-313", True),
        (lambda: token_http_error(429, url="https://h/t"), "WB-313", True),
        (lambda: token_timeout("https://h/t", 5), "WB-314", True),
        (lambda: token_connection_error("https://h/t", "refused"), "WB-315", True),
        (lambda: token_tls_error("https://h/t", "unknown CA"), "WB-316", True),
        (lambda: bad_token_answer("https://h/t", "no access_token"), "WB-317", False),
        (lambda: token_redirected("https://h/t", 307, "https://x/t"), "WB-312", False),
        (lambda: token_answer_too_long("https://h/t", 200), "WB-317", False),
        (lambda: token_answer_too_long("https://h/t", 400), "WB-312", False),
        (lambda: token_answer_too_long("https://h/t", 503), "WB-313", True),
    ],
)
def test_error_codes(make: Callable[[], AttemptError], code: str, retryable: bool):
    error = make()
    assert (error.code, error.retryable) == (code, retryable)
    assert "h:443" in error.message and error.message.endswith(".")


def test_credential_errors_say_what_to_check_and_name_the_client_only():
    error = token_oauth_error(
        "invalid_client", "bad secret", url="https://login.example.com/t?x=1", client_id="wb"
    )
    assert str(error) == (
        "WB-310: the token endpoint login.example.com:443 refused the credentials of client "
        "'wb' (invalid_client: bad secret); check auth.client_id and auth.client_secret."
    )


class _Pool:
    """Like urllib3's MaxRetryError arguments: the real error in ``reason``."""

    def __init__(self, reason: BaseException) -> None:
        self.reason = reason


def test_the_root_cause_of_a_connection_error_is_found_through_the_chain():
    refused = ConnectionRefusedError(111, "Connection refused")
    untrusted = ssl.SSLCertVerificationError(1, "certificate verify failed")
    untrusted.verify_message = "unable to get local issuer certificate"
    try:
        raise RuntimeError("connect failed") from untrusted
    except RuntimeError as exc:
        by_cause: BaseException = exc
    # requests keeps urllib3's error in args; urllib3 its cause in ``reason``.
    in_args = RuntimeError("Max retries exceeded", RuntimeError("pool", refused))
    in_reason = RuntimeError(_Pool(refused))

    tls = token_error_from_cause("https://login.example.com/t?x=1", by_cause)
    assert tls is not None and (tls.code, tls.retryable) == ("WB-316", True)
    assert "unable to get local issuer certificate" in tls.message
    assert "x=1" not in tls.message
    for wrapped in (in_args, in_reason):
        found = token_error_from_cause("https://login.example.com/t", wrapped)
        assert found is not None and (found.code, found.retryable) == ("WB-315", True)
        assert "[Errno 111] Connection refused" in found.message


def test_no_root_cause_is_none_even_in_a_cycle():
    first, second = RuntimeError("a"), RuntimeError("b")
    first.__context__, second.__context__ = second, first
    assert token_error_from_cause("https://h/t", first) is None
    assert token_error_from_cause("https://h/t", OSError("no errno")) is None


def test_a_redirect_names_where_it_pointed_without_user_info_or_query():
    error = token_redirected(
        "https://login.example.com/tenant/token", 307, "http://eve:pw@evil.example:8080/t?code=1"
    )
    assert str(error) == (
        "WB-312: the token endpoint login.example.com:443 answered HTTP 307: redirected to "
        "http://evil.example:8080/t?… (redirects are not followed); check auth.token_url "
        "(or auth.authority and auth.tenant_id)."
    )
    relative = token_redirected("https://login.example.com/a/token", 308, "/b/token")
    assert "redirected to https://login.example.com/b/token (" in relative.message


def test_a_long_answer_says_so_and_is_judged_by_its_status():
    error = token_answer_too_long("https://h/t", 503)
    assert "HTTP 503: the answer is longer than 1 MiB, not read further" in error.message


def test_the_deadline_cuts_every_wait_to_the_time_left():
    with token_deadline(5.0) as deadline:
        assert not deadline.over()
        assert 0 < deadline.bound(30.0) <= 5.0
        assert deadline.bound(0.5) == 0.5
        assert deadline.bound(None) <= 5.0
        connect, read = deadline.bound((10.0, 30.0))
        assert connect <= 5.0 and read <= 5.0
        deadline.expire()
        assert deadline.over()


def test_a_token_fetch_has_the_connectors_timeout_as_its_deadline():
    from dataclasses import dataclass, field
    from types import SimpleNamespace

    from writeback.tokens import TokenAuthMechanismBase

    class Mechanism(TokenAuthMechanismBase):
        def token_identity(self) -> dict[str, str]:
            return {}

    @dataclass
    class Context:
        timeout: float
        auth_settings: object = None
        connector: object = field(
            default_factory=lambda: SimpleNamespace(name="c", auth_method="m")
        )
        token_store: None = None

    timed = Mechanism(Context(timeout=2.5))  # type: ignore[arg-type]
    assert timed.request_timeout == 2.5 and timed.source.request_timeout == 2.5
