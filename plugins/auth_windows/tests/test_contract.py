"""The ntlm and windows auth methods against their contract suite: SOAP over requests,
to the SOAP page simulator guarded by the NTLM test acceptor, and for ``windows`` with
a Kerberos name also by the test KDC's Negotiate acceptor."""

from __future__ import annotations

from writeback_testing.contract import AuthMethodContract

INVALID = [
    {"username": "DOMAIN\\user@REALM", "password": "p"},
    {"username": "", "password": "p"},
    {"username": "CRONUS\\WEBUSER"},
]


class TestNtlmContract(AuthMethodContract):
    plugin = "windows"
    name = "ntlm"
    uses = ("soap",)
    api_format = "soap"
    acceptor = "ntlm"
    settings = {"username": "CRONUS\\WEBUSER", "password": "Ntlm-Pa55!"}
    invalid_settings = INVALID


class TestWindowsContract(TestNtlmContract):
    name = "windows"


class TestWindowsKerberosContract(TestNtlmContract):
    name = "windows"
    acceptor = "negotiate"
    settings = {"username": "alice@WRITEBACK.TEST", "password": "Wonder-Land-42"}
