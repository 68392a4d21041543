"""A call prepared from the thread's template is the request requests would prepare.

The soap format prepares operation calls from a per-thread template (the URL
parsed and the headers merged once) instead of ``Session.post`` preparing all
of it again; what goes on the wire must not change: method, URL, headers
(cookies and auth included) and body, and an auth's hooks once per request.
"""

from __future__ import annotations

import requests
from requests.auth import AuthBase, HTTPBasicAuth
from writeback_soap._sessions import _HeaderAuth, _template, prepared_from

ADDRESS = "https://bc.example.com:7047/BC/WS/CRONUS%20Inc./Page/Appointment?tenant=t 1"
HEADERS = {
    "SOAPAction": '"urn:microsoft-dynamics-schemas/page/appointment:Create"',
    "Content-Type": "text/xml; charset=utf-8",
}
BODY = "<?xml version='1.0' encoding='utf-8'?>\n<x>é</x>".encode()


class HookingAuth(AuthBase):
    """Like requests-ntlm: a header, and a response hook on every request."""

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = "Hook x"
        request.register_hook("response", lambda response, **_: response)
        return request


def both(session: requests.Session) -> tuple[requests.PreparedRequest, requests.PreparedRequest]:
    ours = prepared_from(_template(session, ADDRESS, HEADERS), session, BODY)
    theirs = session.prepare_request(requests.Request("POST", ADDRESS, data=BODY, headers=HEADERS))
    return ours, theirs


def same(ours: requests.PreparedRequest, theirs: requests.PreparedRequest) -> None:
    assert ours.method == theirs.method == "POST"
    assert ours.url == theirs.url
    assert dict(ours.headers) == dict(theirs.headers)
    assert ours.body == theirs.body == BODY
    assert {k: len(v) for k, v in ours.hooks.items()} == {
        k: len(v) for k, v in theirs.hooks.items()
    }


def test_the_same_request_with_cookies_and_each_kind_of_auth() -> None:
    session = requests.Session()
    session.trust_env = False
    session.headers["User-Agent"] = "writeback/test"
    session.cookies.set("ARRAffinity", "abc", domain="bc.example.com", path="/")
    session.cookies.set("elsewhere", "no", domain="other.example.com", path="/")
    for auth in (
        None,
        _HeaderAuth({"Authorization": "Bearer t1"}),
        HTTPBasicAuth("WEBUSER", "pw"),
        HookingAuth(),
    ):
        session.auth = auth
        ours, theirs = both(session)
        same(ours, theirs)
        assert ours.headers["Cookie"] == "ARRAffinity=abc"


def test_hooks_and_headers_do_not_pile_up_across_calls() -> None:
    session = requests.Session()
    session.auth = HookingAuth()
    template = _template(session, ADDRESS, HEADERS)
    for _ in range(3):
        prepared = prepared_from(template, session, BODY)
        assert len(prepared.hooks["response"]) == 1
    assert "Authorization" not in template.headers
    assert "Cookie" not in template.headers


def test_a_token_changed_between_calls_is_the_one_sent() -> None:
    session = requests.Session()
    template = _template(session, ADDRESS, HEADERS)
    session.auth = _HeaderAuth({"Authorization": "Bearer old"})
    assert prepared_from(template, session, BODY).headers["Authorization"] == "Bearer old"
    session.auth = _HeaderAuth({"Authorization": "Bearer new"})
    assert prepared_from(template, session, BODY).headers["Authorization"] == "Bearer new"


def test_an_address_with_credentials_is_prepared_in_full() -> None:
    assert _template(requests.Session(), "https://u:p@bc.example.com/x", HEADERS) is None
