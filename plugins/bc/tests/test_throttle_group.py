"""The default throttle group of a ``bc`` row: its environment plus its principal,
so every connector signing in as one user on one environment shares BC's per-user
limits across the fleet."""

from __future__ import annotations

from writeback.plugin import Connector
from writeback_bc._options import BcOptions
from writeback_bc.plugin import principal_group

ONLINE = "https://api.businesscentral.dynamics.com/v2.0/{tenant}/{env}/api/contoso/planning/v1.0/companies(1)/staging"


def row(uri: str, auth: dict, name: str = "bc") -> Connector:
    return Connector(name=name, type="bc", api_type="json", uri=uri, source_app="A", auth=auth)


def group(uri: str, auth: dict, name: str = "bc") -> str:
    return principal_group(row(uri, auth, name), BcOptions())


def test_one_user_on_one_environment_is_one_group_whatever_the_connector():
    entra = {"method": "entra", "tenant_id": "t", "client_id": "APP-1", "client_secret": "s"}
    a = group(ONLINE.format(tenant="T1", env="Production"), entra, name="planning")
    b = group(
        ONLINE.format(tenant="t1", env="production").replace("staging", "other"), entra, "other"
    )
    assert a == b == "bc:api.businesscentral.dynamics.com:443/t1/production|entra:app-1"


def test_another_principal_tenant_or_environment_is_another_group():
    entra = {"method": "entra", "tenant_id": "t", "client_id": "app-1", "client_secret": "s"}
    base = group(ONLINE.format(tenant="t1", env="production"), entra)
    assert group(ONLINE.format(tenant="t2", env="production"), entra) != base
    assert group(ONLINE.format(tenant="t1", env="sandbox"), entra) != base
    other = {**entra, "client_id": "app-2"}
    assert group(ONLINE.format(tenant="t1", env="production"), other) != base


def test_on_premises_is_host_and_port_plus_the_user():
    basic = {"method": "basic", "username": "PLANNER", "password": "p"}
    uri = "http://bc.example.test:7048/BC/api/contoso/planning/v1.0/companies(1)/staging"
    assert group(uri, basic) == "bc:bc.example.test:7048|basic:planner"


def test_the_default_throttle_is_the_online_per_user_limit_shared_by_the_group():
    """5 concurrent, 6000/300s, one budget per environment and principal
    (the fleet meters a throttle group as one, whichever connector or worker sends)."""
    from writeback.plugin import PluginRegistry, validate_connector

    registry = PluginRegistry.load()
    entra = {"method": "entra", "tenant_id": "t", "client_id": "app-1", "client_secret": "s"}
    uri = ONLINE.format(tenant="t1", env="production")
    rows = [
        {"name": name, "type": "bc", "api_type": "json", "uri": u, "source_app": "A", "auth": entra}
        for name, u in (("planning", uri), ("other", uri.replace("staging", "other")))
    ]
    first, second = (validate_connector(r, registry) for r in rows)
    for connector in (first, second):
        assert (connector.throttle.max_concurrency, connector.throttle.rate) == (5, "6000/300s")
    assert first.throttle_group == second.throttle_group
    own = validate_connector({**rows[0], "throttle": {"max_concurrency": 2}}, registry)
    assert own.throttle.max_concurrency == 2 and own.throttle_group == first.throttle_group
