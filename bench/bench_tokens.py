"""Token requests per 1,000 deliveries at concurrency 50: writeback vs the obvious clients.

Against the OAuth2 simulator and the Entra-style authority (HTTPS, test CA) on
loopback, each client delivers N webhook POSTs that require a Bearer token, 50
at a time, with tokens that live an hour and tokens that live 60 s:

- writeback ``oauth2`` / ``entra``: the real pipeline (json format), 50 asyncio tasks;
- authlib, per request: a new client and token for every delivery;
- authlib, shared: one ``OAuth2Session`` (token fetched first) used by 50 threads,
  refreshing itself (no lock, fixed 60 s leeway);
- msal, shared: one ``ConfidentialClientApplication`` whose
  ``acquire_token_for_client`` is called before every delivery from 50 threads.

Prints a markdown table of token requests made (and per 1,000 deliveries).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

SECRET = "bench-secret"
CLIENT = "bench-client"
SCOPE = "api://bench/.default"


def _servers(lifetime: float) -> tuple[Any, Any, Any]:
    from writeback_testing._server import _HTTPServer
    from writeback_testing.acceptors import BearerAcceptor
    from writeback_testing.entra import EntraAuthority, TestCA
    from writeback_testing.oauth2_server import OAuth2Server
    from writeback_testing.webhook import WebhookReceiver

    # 50 clients connecting at once overflow socketserver's listen backlog of 5.
    _HTTPServer.request_queue_size = 256
    ca = TestCA()
    bundle = ca.write_bundle(Path(tempfile.mkdtemp()) / "ca.pem", with_system=True)
    os.environ["SSL_CERT_FILE"] = os.environ["REQUESTS_CA_BUNDLE"] = str(bundle)
    oauth2 = OAuth2Server(lifetime=lifetime).start()
    oauth2.register(CLIENT, SECRET, method="client_secret_post")
    entra = EntraAuthority(ca.server_context(), lifetime=lifetime).start()
    entra.register(CLIENT, SECRET)
    hook = WebhookReceiver(
        auth=BearerAcceptor(lambda t: oauth2.principal(t) or entra.principal(t))
    ).start()
    return oauth2, entra, hook


def writeback_pipeline(method: str, server: Any, hook: Any, n: int, concurrency: int) -> None:
    from writeback.plugin import Delivery, Outcome, Pipeline, PluginRegistry, validate_connector

    if method == "oauth2":
        auth = {
            "method": "oauth2",
            "token_url": server.token_url,
            "client_auth": "client_secret_post",
        }
    else:
        auth = {"method": "entra", "tenant_id": server.tenant, "authority": server.url}
    row = {
        "name": f"bench-{method}",
        "type": "webhook",
        "api_type": "json",
        "uri": hook.url,
        "source_app": "BENCH",
        "throttle": {"max_concurrency": concurrency},
        "auth": {**auth, "client_id": CLIENT, "client_secret": SECRET, "scope": SCOPE},
    }
    connector = validate_connector(row, PluginRegistry.load())

    async def run() -> None:
        pipeline = Pipeline.build(connector)
        gate = asyncio.Semaphore(concurrency)

        async def one(i: int) -> None:
            async with gate:
                result = await pipeline.send(Delivery(f"d{i}", f"e{i}", "create", {"n": i}, None))
                assert result.outcome is Outcome.DELIVERED, result

        try:
            await asyncio.gather(*(one(i) for i in range(n)))
        finally:
            await pipeline.aclose()

    asyncio.run(run())


def _threads(n: int, concurrency: int, work: Callable[[int], None]) -> None:
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(work, range(n)))


def _session() -> Any:
    import requests
    from requests.adapters import HTTPAdapter

    session = requests.Session()
    session.mount("http://", HTTPAdapter(pool_maxsize=16, pool_block=True))
    return session


def authlib_per_request(server: Any, hook: Any, n: int, concurrency: int) -> None:
    from authlib.integrations.requests_client import OAuth2Session

    def work(i: int) -> None:
        with OAuth2Session(
            CLIENT,
            SECRET,
            token_endpoint_auth_method="client_secret_post",
            scope=SCOPE,
            token_endpoint=server.token_url,
            grant_type="client_credentials",
        ) as client:
            client.fetch_token()
            assert client.post(hook.url, json={"n": i}).status_code == 200

    _threads(n, concurrency, work)


def authlib_shared(server: Any, hook: Any, n: int, concurrency: int) -> None:
    from authlib.integrations.requests_client import OAuth2Session
    from requests.adapters import HTTPAdapter

    # authlib's documented set-up for a client that refreshes client credentials itself.
    client = OAuth2Session(
        CLIENT,
        SECRET,
        token_endpoint_auth_method="client_secret_post",
        scope=SCOPE,
        token_endpoint=server.token_url,
        grant_type="client_credentials",
    )
    client.mount("http://", HTTPAdapter(pool_maxsize=16, pool_block=True))
    client.fetch_token()

    def work(i: int) -> None:
        assert client.post(hook.url, json={"n": i}).status_code == 200

    _threads(n, concurrency, work)
    client.close()


def msal_shared(server: Any, hook: Any, n: int, concurrency: int) -> None:
    import msal

    app = msal.ConfidentialClientApplication(
        CLIENT,
        client_credential=SECRET,
        authority=f"{server.url}/{server.tenant}",
        instance_discovery=False,
    )
    session = _session()

    def work(i: int) -> None:
        token = app.acquire_token_for_client(scopes=[SCOPE])["access_token"]
        answer = session.post(hook.url, json={"n": i}, headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code == 200

    _threads(n, concurrency, work)
    session.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deliveries", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=50)
    args = parser.parse_args()
    warnings.filterwarnings("ignore", category=DeprecationWarning)  # authlib's httpx notice
    n, c = args.deliveries, args.concurrency
    clients: list[tuple[str, str, Callable[..., None]]] = [
        (
            "writeback oauth2 (single-flight source)",
            "oauth2",
            lambda s, h: writeback_pipeline("oauth2", s, h, n, c),
        ),
        (
            "writeback entra (single-flight source)",
            "entra",
            lambda s, h: writeback_pipeline("entra", s, h, n, c),
        ),
        (
            "authlib, new client per delivery",
            "oauth2",
            lambda s, h: authlib_per_request(s, h, n, c),
        ),
        (
            "authlib OAuth2Session shared by threads",
            "oauth2",
            lambda s, h: authlib_shared(s, h, n, c),
        ),
        ("msal app shared by threads", "entra", lambda s, h: msal_shared(s, h, n, c)),
    ]
    lifetimes = (3600.0, 60.0)
    counts: dict[tuple[str, float], tuple[int, float]] = {}
    for lifetime in lifetimes:
        for name, kind, run in clients:
            oauth2, entra, hook = _servers(lifetime)
            server = oauth2 if kind == "oauth2" else entra
            started = time.perf_counter()
            try:
                run(server, hook)
            finally:
                elapsed = time.perf_counter() - started
                for s in (oauth2, entra, hook):
                    s.stop()
            assert len(hook.deliveries) == n, (name, len(hook.deliveries))
            counts[(name, lifetime)] = (server.token_requests, elapsed)
    print(
        f"Token requests for {n} deliveries at concurrency {c} "
        f"(per 1,000 deliveries in brackets; Python {sys.version.split()[0]}):\n"
    )
    print("| client | token lifetime 3600 s | token lifetime 60 s |")
    print("|---|---|---|")
    for name, _, _ in clients:
        cells = []
        for lifetime in lifetimes:
            requests_made, elapsed = counts[(name, lifetime)]
            cells.append(f"{requests_made} ({requests_made * 1000 / n:g}) in {elapsed:.1f} s")
        print(f"| {name} | {' | '.join(cells)} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
