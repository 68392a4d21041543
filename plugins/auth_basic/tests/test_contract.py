"""The basic auth method against its contract suite."""

from __future__ import annotations

from writeback_testing.contract import AuthMethodContract


class TestBasicContract(AuthMethodContract):
    plugin = "basic"
    settings = {"username": "WEBUSER", "password": "s3cret-Pa55!"}
    acceptor = "basic"
    invalid_settings = [
        {"username": "WEB:USER", "password": "p"},
        {"username": "", "password": "p"},
        {"username": "WEBUSER"},
        {"username": "WEBUSER", "password": "p", "realm": "x"},
    ]
