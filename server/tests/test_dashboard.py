"""The dashboard (``/ui/``) in a real headless Chromium, driven by Selenium, against
``writeback serve --worker`` as a real process delivering to a loopback receiver.

The browser is Debian's (``/usr/bin/chromium`` and ``/usr/bin/chromedriver``, which
``.ci/run`` installs); both paths are given explicitly so Selenium Manager never
downloads anything.  In CI a missing browser fails these tests; elsewhere they skip.
The session and CSRF refusals are checked with plain HTTP (httpx), as an attacker
would send them.

``WRITEBACK_DASHBOARD_SCREENSHOTS=docs/images`` also saves the screenshots that
docs/service.md shows.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from writeback_testing.webhook import ReceivedRequest, Step

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
#: Long enough for a loaded 2-core machine; the waits poll and end as soon as it holds.
WAIT = 60
SECRET = "hunter2-Very-Secret"


def _missing(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason}; CI must have it (.ci/run installs chromium and chromium-driver)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """A headless Chromium at phone-and-desktop sizes, through Debian's chromedriver."""
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service as DriverService
    except ImportError:
        _missing("selenium is not installed (requirements-dev.txt)")
    for path in (CHROMIUM, CHROMEDRIVER):
        if not Path(path).exists():
            _missing(f"{path} is missing (Debian packages chromium, chromium-driver)")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(arg)
    options.add_argument("--window-size=1280,900")
    driver = webdriver.Chrome(service=DriverService(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(WAIT)
    try:
        yield driver
    finally:
        driver.quit()


class Refusing:
    """The receiver's plan: answer 400 to one path while ``refusing`` is set."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.refusing = threading.Event()

    def __call__(self, request: ReceivedRequest) -> Step | None:
        if request.path == self.path and self.refusing.is_set():
            return Step(400, body={"ok": False, "error": "refused by the test"})
        return None


@pytest.fixture(scope="module")
def refusing(receiver) -> Refusing:
    plan = Refusing("/hook/dash")
    receiver.set_plan(plan)
    return plan


@pytest.fixture(scope="module")
def put(service, receiver) -> Callable[..., None]:
    def put(name: str, source_app: str, **extra: Any) -> None:
        row = {
            "type": "webhook",
            "uri": f"{receiver.url}/hook/{name}",
            "api_type": "json",
            "source_app": source_app,
            "retry": {"schedule": [0.2]},
            **extra,
        }
        got = service.client.put(
            f"/v1/connectors/{name}",
            content=json.dumps(row),
            headers={"Content-Type": "application/json", **_bearer(service.keys["admin"])},
        )
        assert got.status_code == 200, got.text

    return put


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _submit(service, source_app: str, guid: str) -> list[dict[str, str]]:
    event = {"action": "create", "appointment": {"appointmentGuid": guid, "sourceApp": source_app}}
    got = service.post_events(event, service.keys["ingest"])
    assert got.status_code == 202, got.text
    return got.json()["events"][0]["deliveries"]


def _poll(driver: Any, url: str, holds: Callable[[Any], bool], what: str) -> None:
    """Load ``url`` again until ``holds(driver)``: the state is read, never slept on."""
    from selenium.webdriver.support.wait import WebDriverWait

    def loaded(d: Any) -> bool:
        d.get(url)
        return holds(d)

    WebDriverWait(driver, WAIT, poll_frequency=0.2).until(loaded, f"waited for {what}")


def _text(driver: Any, css: str) -> str:
    from selenium.webdriver.common.by import By

    return driver.find_element(By.CSS_SELECTOR, css).text


def _press(driver: Any, element_id: str | None = None, css: str | None = None) -> None:
    """Press a form's button and wait until the page it leads to has loaded.

    The old page's window gets a mark; the new page's window has none.  (Holding
    on to an element of the old page instead makes chromedriver answer with
    errors other than "stale" while the new page loads.)
    """
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.wait import WebDriverWait

    wait = WebDriverWait(driver, WAIT, poll_frequency=0.05, ignored_exceptions=[WebDriverException])
    wait.until(_loaded)
    driver.execute_script("window.wbOldPage = true")
    button = driver.find_element(*((By.ID, element_id) if element_id else (By.CSS_SELECTOR, css)))
    try:
        button.click()
    except WebDriverException as exc:
        # chromedriver may look at the button again after the page it submitted has
        # replaced it; the navigation happened, which the wait below confirms.
        if "does not belong to the document" not in str(exc):
            raise
    wait.until(lambda d: _loaded(d) and d.execute_script("return !window.wbOldPage"))


def _loaded(driver: Any) -> bool:
    return driver.execute_script("return document.readyState") == "complete"


def _sign_in(driver: Any, url: str, key: str) -> None:
    from selenium.webdriver.common.by import By

    driver.delete_all_cookies()
    driver.get(f"{url}/ui/")
    assert driver.current_url == f"{url}/ui/sign-in"
    driver.find_element(By.ID, "key").send_keys(key)
    _press(driver, css="form.stack button")


def _shoot(driver: Any, name: str, width: int = 1100) -> None:
    """Save the page for the docs when ``WRITEBACK_DASHBOARD_SCREENSHOTS`` names a folder."""
    folder = os.environ.get("WRITEBACK_DASHBOARD_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        before = driver.get_window_size()
        driver.set_window_size(width, 900)
        height = driver.execute_script("return document.documentElement.scrollHeight")
        driver.set_window_size(width, min(int(height) + 20, 900))
        driver.save_screenshot(str(Path(folder) / name))
        driver.set_window_size(before["width"], before["height"])


# -- in the browser ---------------------------------------------------------------------


def test_a_wrong_key_is_refused(service, browser) -> None:
    _sign_in(browser, service.url, "wbk_" + "x" * 43)
    assert browser.current_url == f"{service.url}/ui/sign-in"
    assert "not known or was revoked" in _text(browser, "[role=alert]")
    _sign_in(browser, service.url, service.keys["ingest"])
    assert "needs a read or an admin key" in _text(browser, "[role=alert]")
    browser.get(f"{service.url}/ui/deliveries")
    assert browser.current_url == f"{service.url}/ui/sign-in"


def test_retry_a_dead_delivery(service, browser, put, refusing) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.select import Select

    put("dash", "DASHAPP", auth={"method": "basic", "username": "ops", "password": SECRET})
    refusing.refusing.set()
    # Three refused: one is retried here, the other two stay dead.
    events = [
        {"action": "create", "appointment": {"appointmentGuid": guid, "sourceApp": "DASHAPP"}}
        for guid in ("<b>g-dash-1</b>", "g-dash-2", "g-dash-3")
    ]
    answer = service.post_events(events, service.keys["ingest"])
    assert answer.status_code == 202, answer.text
    ids = [e["deliveries"][0]["id"] for e in answer.json()["events"]]
    for delivery_id in ids:
        service.wait_status(delivery_id, "dead", service.keys["read"], timeout=WAIT)
    delivery = {"id": ids[0]}

    _sign_in(browser, service.url, service.keys["admin"])
    assert browser.current_url == f"{service.url}/ui/"
    assert "dash" in _text(browser, "table")
    browser.get(f"{service.url}/ui/deliveries")
    Select(browser.find_element(By.NAME, "status")).select_by_value("dead")
    Select(browser.find_element(By.NAME, "connector")).select_by_value("dash")
    _press(browser, css="form.filters button")
    assert browser.current_url.endswith("/ui/deliveries?status=dead&connector=dash")
    row = browser.find_element(By.CSS_SELECTOR, "#log tbody tr")
    # The appointment's markup is shown as text, not obeyed.
    assert "<b>g-dash-1</b>" in row.text
    assert not browser.find_elements(By.CSS_SELECTOR, "#log td b")
    _press(browser, css="#log tbody tr a")
    assert browser.current_url.endswith(f"/ui/deliveries/{delivery['id']}")
    assert _text(browser, "#status") == "dead"
    assert "400" in _text(browser, "#attempts tbody")

    refusing.refusing.clear()
    _press(browser, "retry")
    assert "Queued again" in _text(browser, "[role=status]")
    page = browser.current_url
    _poll(browser, page, lambda d: _text(d, "#status") == "delivered", "the retried delivery")
    attempts = _text(browser, "#attempts tbody")
    assert "400" in attempts and "200" in attempts and "delivered" in attempts
    assert not browser.find_elements(By.ID, "retry")
    _shoot(browser, "dashboard-delivery.png")
    # The connector's page shows its row with the password masked.
    browser.get(f"{service.url}/ui/connectors/dash")
    assert SECRET not in browser.page_source


def test_pause_holds_deliveries_until_resumed(service, browser, put, receiver) -> None:
    from selenium.webdriver.common.by import By

    put("held", "HOLDAPP")
    put("free", "HOLDAPP")
    _sign_in(browser, service.url, service.keys["admin"])
    browser.get(f"{service.url}/ui/connectors/held")
    browser.find_element(By.ID, "reason").send_keys("back office upgrade <tonight>")
    _press(browser, "pause")
    assert "back office upgrade <tonight>" in _text(browser, "#paused")

    deliveries = {d["connector"]: d["id"] for d in _submit(service, "HOLDAPP", "g-hold-1")}
    # Once the worker has delivered the free one, it has claimed past the pause.
    service.wait_status(deliveries["free"], "delivered", service.keys["read"], timeout=WAIT)
    held = service.client.get(
        f"/v1/deliveries/{deliveries['held']}", headers=_bearer(service.keys["read"])
    ).json()
    assert held["status"] == "pending" and held["attempts"] == 0
    assert not [r for r in receiver.deliveries if r.path == "/hook/held"]
    browser.get(f"{service.url}/ui/deliveries?connector=held")
    assert "pending" in _text(browser, "#log tbody")
    browser.get(f"{service.url}/ui/")
    assert "paused" in _text(browser, "table")

    browser.get(f"{service.url}/ui/connectors/held")
    _press(browser, "resume")
    assert "Resumed" in _text(browser, "[role=status]")
    url = f"{service.url}/ui/deliveries/{deliveries['held']}"
    _poll(browser, url, lambda d: _text(d, "#status") == "delivered", "the resumed delivery")

    browser.get(f"{service.url}/ui/connectors/free")
    _press(browser, "test")
    assert "Test passed" in _text(browser, "[role=status]")
    browser.get(f"{service.url}/ui/deliveries")
    _shoot(browser, "dashboard.png")


def _circuit(driver: Any, name: str) -> str:
    from selenium.webdriver.common.by import By

    cell = f"//tr[td/a[text()='{name}']]/td[@data-label='circuit']"
    return driver.find_element(By.XPATH, cell).text


def test_the_overview_shows_each_connectors_circuit(service, browser, put) -> None:
    put("steady", "STEADYAPP")
    # Nobody listens on the discard port: every attempt finds no answer, and after
    # five in a row the worker's circuit for the connector opens.
    put("tripped", "TRIPAPP", uri="http://127.0.0.1:9/hook", retry={"schedule": [0.1] * 30})
    (steady,) = _submit(service, "STEADYAPP", "g-steady")
    for n in range(6):
        _submit(service, "TRIPAPP", f"g-trip-{n}")
    service.wait_status(steady["id"], "delivered", service.keys["read"], timeout=WAIT)
    _sign_in(browser, service.url, service.keys["read"])
    _poll(browser, f"{service.url}/ui/", lambda d: _circuit(d, "tripped") == "open", "open")
    assert _circuit(browser, "steady") == "closed"


def test_a_phone_sized_window_needs_no_sideways_scrolling(service, browser, put) -> None:
    put("phone", "PHONEAPP")
    (delivery,) = _submit(service, "PHONEAPP", "g-phone-" + "long" * 10)
    _sign_in(browser, service.url, service.keys["admin"])
    browser.set_window_size(390, 844)
    try:
        for path in (
            "/ui/",
            "/ui/deliveries",
            f"/ui/deliveries/{delivery['id']}",
            "/ui/connectors/phone",
        ):
            browser.get(service.url + path)
            width = browser.execute_script("return window.innerWidth")
            scroll = browser.execute_script(
                "return Math.max(document.body.scrollWidth, document.documentElement.scrollWidth)"
            )
            assert scroll <= width, f"{path}: {scroll} px wide in a {width} px window"
            if path == "/ui/":
                _shoot(browser, "dashboard-phone.png", width=390)
    finally:
        browser.set_window_size(1280, 900)


# -- sessions, scopes and CSRF over plain HTTP --------------------------------------------


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, html
    return found.group(1)


def _session(service, key: str) -> tuple[httpx.Client, str]:
    """A client signed in with ``key`` (close it: ``contextlib.closing``), and its CSRF token."""
    client = httpx.Client(base_url=service.url, timeout=WAIT)
    form = client.get("/ui/sign-in")
    got = client.post("/ui/sign-in", data={"csrf": _csrf(form.text), "key": key})
    assert got.status_code == 303 and got.headers["location"] == "/ui/", got.text
    return client, _csrf(client.get("/ui/").text)


def test_the_cookie_is_httponly_strict_and_holds_no_key(service) -> None:
    client = httpx.Client(base_url=service.url, timeout=WAIT)
    with client:
        form = client.get("/ui/sign-in")
        key = service.keys["read"]
        got = client.post("/ui/sign-in", data={"csrf": _csrf(form.text), "key": key})
        cookie = got.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/ui" in cookie
        assert key not in cookie and key[4:] not in cookie
        from writeback_server._keys import hash_key

        assert hash_key(key) not in cookie
        page = client.get("/ui/")
        assert page.status_code == 200 and key not in page.text
        assert "script-src" not in page.headers["content-security-policy"]
        assert page.headers["cache-control"] == "no-store"
        # A cookie altered by one character is a new anonymous session.
        name, value = "wb_session", client.cookies["wb_session"]
        forged = value[:-1] + ("A" if value[-1] != "A" else "B")
        client.cookies.set(name, forged, domain="127.0.0.1", path="/ui")
        assert client.get("/ui/").headers["location"] == "/ui/sign-in"


def test_a_post_without_the_csrf_token_is_refused(service, put) -> None:
    put("guarded", "GUARDAPP")
    client, csrf = _session(service, service.keys["admin"])
    with contextlib.closing(client):
        for form in ({}, {"csrf": "not-the-token"}, {"csrf": csrf + "x"}):
            got = client.post("/ui/connectors/guarded/pause", data={**form, "reason": "x"})
            assert got.status_code == 403, got.text
            assert "CSRF" in got.text and "text/html" in got.headers["content-type"]
        row = service.client.get("/v1/connectors/guarded", headers=_bearer(service.keys["read"]))
        assert row.json()["paused"] is False
        # With the token it works (and GET never changes anything: there is no GET action).
        got = client.post("/ui/connectors/guarded/pause", data={"csrf": csrf, "reason": "x"})
        assert got.status_code == 303
        got = client.post("/ui/connectors/guarded/resume", data={"csrf": csrf})
        assert got.status_code == 303
        assert client.get("/ui/connectors/guarded/pause").status_code == 404
    # Not signed in at all: 401, nothing done.
    with httpx.Client(base_url=service.url, timeout=WAIT) as anonymous:
        got = anonymous.post("/ui/connectors/guarded/pause", data={"csrf": "x"})
        assert got.status_code == 401


def test_a_read_key_looks_but_cannot_act(service, put) -> None:
    put("lookonly", "LOOKAPP")
    client, csrf = _session(service, service.keys["read"])
    with contextlib.closing(client):
        page = client.get("/ui/connectors/lookonly")
        assert page.status_code == 200 and 'id="pause"' not in page.text
        assert "admin" in page.text
        for action in ("pause", "resume", "test"):
            got = client.post(f"/ui/connectors/lookonly/{action}", data={"csrf": csrf})
            assert got.status_code == 403, got.text
            assert "scope &#39;read&#39;" in got.text
        got = client.post("/ui/deliveries/dlv_unknown/retry", data={"csrf": csrf})
        assert got.status_code == 403
        # Signing out needs the token too, and ends the session.
        assert client.post("/ui/sign-out", data={}).status_code == 403
        assert client.post("/ui/sign-out", data={"csrf": csrf}).status_code == 303
        assert client.get("/ui/").headers["location"] == "/ui/sign-in"


def test_the_log_pages_by_next_links(service, put) -> None:
    put("pages", "PAGEAPP")
    events = [
        {
            "action": "create",
            "appointment": {"appointmentGuid": f"g-page-{n}", "sourceApp": "PAGEAPP"},
        }
        for n in range(60)
    ]
    assert service.post_events(events, service.keys["ingest"]).status_code == 202
    client, _ = _session(service, service.keys["read"])
    seen: list[str] = []
    with contextlib.closing(client):
        url: str | None = "/ui/deliveries?connector=pages"
        while url is not None:
            page = client.get(url.replace("&amp;", "&"))
            assert page.status_code == 200, page.text
            seen += re.findall(r'href="/ui/deliveries/(dlv_\w+)"', page.text)
            found = re.search(r'<a rel="next" href="([^"]+)"', page.text)
            url = found.group(1) if found else None
            assert len(seen) <= 60
    assert len(seen) == len(set(seen)) == 60


def test_the_cookie_is_secure_over_https() -> None:
    from starlette.requests import Request
    from starlette.responses import Response
    from writeback_server.ui._session import Session

    for scheme, secure in (("https", True), ("http", False)):
        request = Request(
            {
                "type": "http",
                "scheme": scheme,
                "method": "GET",
                "path": "/ui/",
                "headers": [],
                "query_string": b"",
                "server": ("h", 443),
            }
        )
        response = Response()
        Session.fresh().save(request, response)
        assert ("; secure" in response.headers["set-cookie"].lower()) is secure


def test_revoking_the_key_ends_its_sessions_at_once(service) -> None:
    key = service.make_key("revoked-soon", "read")
    client, _ = _session(service, key)
    with contextlib.closing(client):
        assert client.get("/ui/").status_code == 200
        service.cli("api-keys", "revoke", "revoked-soon")
        assert client.get("/ui/").headers["location"] == "/ui/sign-in"


def test_a_short_configured_secret_is_ignored(monkeypatch, caplog) -> None:
    from writeback_server.ui import _session

    monkeypatch.setattr(_session, "_secret", None)
    monkeypatch.setenv(_session.SECRET_ENV, "too-short")
    assert _session._key() != b"too-short" and len(_session._key()) == 32
    assert "too-short" not in caplog.text and "is ignored" in caplog.text
    monkeypatch.setattr(_session, "_secret", None)
    monkeypatch.setenv(_session.SECRET_ENV, "s" * 40)
    assert _session._key() == b"s" * 40


def test_secrets_and_markup_are_never_rendered(service, put) -> None:
    put(
        "masked",
        "MASKAPP",
        auth={"method": "basic", "username": "ops", "password": SECRET},
    )
    client, _ = _session(service, service.keys["admin"])
    with contextlib.closing(client):
        page = client.get("/ui/connectors/masked")
        assert page.status_code == 200
        assert SECRET not in page.text and "***" in page.text
        missing = client.get("/ui/deliveries/<script>")
        assert missing.status_code == 404 and "<script>" not in missing.text
        bad = client.get("/ui/deliveries", params={"after": "tampered"})
        assert bad.status_code == 400 and "text/html" in bad.headers["content-type"]
