"""The contract suites against deliberately broken plugins (``broken_plugins.py``).

Every check of every suite must fail on the stand-in that has its flaw, with a
message that says what to fix in the plugin.  The suites run in a pytest
subprocess , as a plugin author's test module would, and the
failures are read from its JUnit XML report.
"""

from __future__ import annotations

import inspect
import os
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from writeback_testing.contract import (
    ApiFormatContract,
    AuthMethodContract,
    ConnectorTypeContract,
)

SUITES = textwrap.dedent(
    """
    from writeback_testing.contract import (
        ApiFormatContract, AuthMethodContract, ConnectorTypeContract,
    )


    class TestBrokenType(ConnectorTypeContract):
        plugin = "brokentype"
        plugin_module = "broken_plugins:broken_type"
        uses = ("json",)
        valid_options = {"secret": "type-s3cret-value"}
        invalid_options = [{"colour": "not a colour at all"}]
        skip_checks = {"no_such_check": "a typo"}


    class TestBrokenTypeGoodOptions(ConnectorTypeContract):
        plugin = "brokentype"
        plugin_module = "broken_plugins:broken_type"
        uses = ("json",)
        valid_options = {"colour": "Blue"}


    class TestBrokenTypeSoap(ConnectorTypeContract):
        plugin = "brokentype"
        plugin_module = "broken_plugins:broken_type"
        uses = ("soap",)
        api_format = "soap"


    class TestNonConformingType(ConnectorTypeContract):
        plugin = "brokenconf"
        plugin_module = "broken_plugins:non_conforming"


    class TestBrokenJson(ApiFormatContract):
        plugin = "brokenformats"
        plugin_module = "broken_plugins:broken_formats"
        name = "brokenjson"
        skip_checks = {"no_such_check": "a typo"}


    class TestBrokenSoap(ApiFormatContract):
        plugin = "brokenformats"
        plugin_module = "broken_plugins:broken_formats"
        name = "brokensoap"
        backend = "soap_page"


    class TestNoAuthFormat(ApiFormatContract):
        plugin = "brokenformats"
        plugin_module = "broken_plugins:broken_formats"
        name = "brokennoauth"


    class TestNonConformingFormat(ApiFormatContract):
        plugin = "brokenconf"
        plugin_module = "broken_plugins:non_conforming"


    class TestBrokenKey(AuthMethodContract):
        plugin = "brokenauth"
        plugin_module = "broken_plugins:broken_auth"
        name = "brokenkey"
        settings = {"key": "api-key-s3cret-0123"}
        invalid_settings = [{"key": "k", "header": "two words"}]
        skip_checks = {"no_such_check": "a typo"}


    class TestBrokenKeyGoodSettings(TestBrokenKey):
        settings = {"key": "api-key-s3cret-0123", "header": "X-Api-Key"}
        skip_checks = {}


    class TestBrokenSilentKey(AuthMethodContract):
        plugin = "brokenauth"
        plugin_module = "broken_plugins:broken_auth"
        name = "brokensilent"
        settings = {"key": "api-key-s3cret-4567"}
        acceptor = ("header", "X-Api-Key")


    class TestBrokenToken(AuthMethodContract):
        plugin = "brokenauth"
        plugin_module = "broken_plugins:broken_auth"
        name = "brokentoken"
        token_server = "oauth2"
        settings = {"token_url": "{token_url}", "client_id": "c1", "client_secret": "cs-s3cret"}


    class TestBrokenScheme(TestBrokenToken):
        name = "brokenscheme"


    class TestNonConformingAuth(AuthMethodContract):
        plugin = "brokenconf"
        plugin_module = "broken_plugins:non_conforming"
    """
)

#: (suite class, check, words the failure must contain): what to fix, in the plugin.
EXPECTED = [
    ("TestBrokenType", "opt_outs_name_real_checks", "use a test name without 'test_'"),
    ("TestNonConformingType", "declarations_conform", "must set extra='forbid'"),
    ("TestBrokenType", "declaring_imports_no_heavy_library", "imports requests (imported at"),
    ("TestBrokenTypeGoodOptions", "valid_options_are_accepted", "fix the options model"),
    ("TestBrokenType", "invalid_options_are_refused_in_one_sentence", "refuse them in the"),
    ("TestBrokenType", "secrets_never_shown", "the log shows the secret secret"),
    ("TestBrokenType", "env_secrets_are_resolved", "read secret options with context.reveal"),
    ("TestBrokenType", "create_update_delete_each_send_a_message", "a delete was not delivered"),
    ("TestBrokenType", "probe_has_no_side_effect", "make probe_message() a GET or HEAD"),
    ("TestBrokenType", "429_with_retry_after_is_retried_after_it", "review()"),
    ("TestBrokenType", "5xx_and_resets_are_retried", "503 was not retried"),
    ("TestBrokenType", "other_4xx_fail_keeping_the_answer", "keep it when review()"),
    ("TestBrokenType", "slow_answer_times_out_as_retry", "bound the request by context.timeout"),
    ("TestBrokenTypeSoap", "soap_faults_are_classified", "the fault of a busy server"),
    ("TestBrokenJson", "opt_outs_name_real_checks", "use a test name without 'test_'"),
    ("TestNonConformingFormat", "declarations_conform", "is not one of ('httpx', 'requests')"),
    ("TestBrokenJson", "declaring_imports_no_heavy_library", "import it inside the factory"),
    ("TestNoAuthFormat", "attaches_the_attempts_credentials", "add auth.headers()"),
    ("TestBrokenJson", "401_refreshes_once_then_succeeds", "read auth.headers() for every"),
    ("TestBrokenJson", "secrets_never_shown", "the log shows the secret token"),
    ("TestBrokenJson", "create_update_delete_each_send_a_message", "made 2 requests, not 3"),
    ("TestBrokenJson", "probe_has_no_side_effect", "the probe changed the back office"),
    ("TestBrokenJson", "429_with_retry_after_is_retried_after_it", "pass the answer's headers"),
    ("TestBrokenJson", "5xx_and_resets_are_retried", "a reset connection was not retried"),
    ("TestBrokenJson", "other_4xx_fail_keeping_the_answer", "pass the answer's body"),
    ("TestBrokenJson", "slow_answer_times_out_as_retry", "timeout=True"),
    ("TestBrokenSoap", "soap_faults_are_classified", "a fault about the record gave retry"),
    ("TestBrokenKey", "opt_outs_name_real_checks", "use a test name without 'test_'"),
    ("TestNonConformingAuth", "declarations_conform", "has no description"),
    ("TestBrokenKey", "declaring_imports_no_heavy_library", "import it inside the factory"),
    ("TestBrokenKeyGoodSettings", "valid_settings_are_accepted", "fix the settings model"),
    ("TestBrokenKey", "invalid_settings_are_refused_in_one_sentence", "refuse them in the"),
    ("TestBrokenScheme", "the_back_office_lets_the_credentials_in", "attach them with"),
    (
        "TestBrokenSilentKey",
        "the_back_office_lets_the_credentials_in",
        "wants the X-Api-Key header carrying settings['key']: return {'X-Api-Key': "
        "context.reveal(self.settings.key)} from headers()",
    ),
    ("TestBrokenKey", "secrets_never_shown", "describe()) shows the secret key"),
    ("TestBrokenKey", "env_secrets_are_resolved", "read secrets with context.reveal"),
    ("TestBrokenKey", "401_refreshes_once_then_succeeds", "must return False"),
    ("TestBrokenToken", "401_refreshes_once_then_succeeds", "fetch one, return True"),
    ("TestBrokenToken", "token_endpoint_5xx_and_429_are_retried", "token_http_error"),
    ("TestBrokenToken", "token_endpoint_refusal_fails_keeping_its_error", "token_oauth_error"),
    ("TestBrokenToken", "silent_token_endpoint_times_out_as_retry", "raise token_timeout"),
    ("TestBrokenToken", "expiring_token_is_renewed_before_use", "renew a token ahead of its"),
]

#: Each class of SUITES -> the suite it subclasses.
SUITE_OF = {
    "TestBrokenType": ConnectorTypeContract,
    "TestBrokenTypeGoodOptions": ConnectorTypeContract,
    "TestBrokenTypeSoap": ConnectorTypeContract,
    "TestNonConformingType": ConnectorTypeContract,
    "TestBrokenJson": ApiFormatContract,
    "TestBrokenSoap": ApiFormatContract,
    "TestNoAuthFormat": ApiFormatContract,
    "TestNonConformingFormat": ApiFormatContract,
    "TestBrokenKey": AuthMethodContract,
    "TestBrokenKeyGoodSettings": AuthMethodContract,
    "TestBrokenSilentKey": AuthMethodContract,
    "TestBrokenToken": AuthMethodContract,
    "TestBrokenScheme": AuthMethodContract,
    "TestNonConformingAuth": AuthMethodContract,
}


def _checks(suite: type) -> set[str]:
    return {n[len("test_") :] for n, _ in inspect.getmembers(suite) if n.startswith("test_")}


@pytest.fixture(scope="module")
def failures(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], str]:
    """Run the suites on the broken plugins once: (class, check) -> failure message."""
    folder = tmp_path_factory.mktemp("broken")
    (folder / "test_broken_suites.py").write_text(SUITES)
    # An ini file of its own: the repository's (warnings as errors, testpaths) stays out.
    (folder / "pytest.ini").write_text("[pytest]\n")
    here = str(Path(__file__).parent)
    report = folder / "report.xml"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:randomly",
            f"--junitxml={report}",
            str(folder / "test_broken_suites.py"),
        ],
        cwd=folder,
        capture_output=True,
        text=True,
        env={
            **os.environ,
            "PYTHONPATH": os.pathsep.join(filter(None, [here, os.environ.get("PYTHONPATH")])),
        },
        timeout=900,
    )
    assert report.exists(), done.stdout + done.stderr
    found = {}
    for case in ET.parse(report).getroot().iter("testcase"):
        failed = case.find("failure")
        if failed is None:
            failed = case.find("error")
        if failed is not None:
            cls = case.get("classname", "").rsplit(".", 1)[-1]
            name = case.get("name", "").removeprefix("test_")
            found[(cls, name)] = (failed.get("message") or "") + (failed.text or "")
    return found


def test_every_check_of_every_suite_is_shown_failing() -> None:
    for suite in (ConnectorTypeContract, ApiFormatContract, AuthMethodContract):
        shown = {check for cls, check, _ in EXPECTED if SUITE_OF[cls] is suite}
        missing = _checks(suite) - shown
        assert not missing, f"{suite.__name__}: no broken stand-in fails {sorted(missing)}"


@pytest.mark.parametrize(
    ("cls", "check", "words"), EXPECTED, ids=[f"{c}-{k}" for c, k, _ in EXPECTED]
)
def test_check_fails_saying_what_to_fix(
    failures: dict[tuple[str, str], str], cls: str, check: str, words: str
) -> None:
    message = failures.get((cls, check))
    assert message is not None, f"{cls}.test_{check} did not fail on its broken stand-in"
    assert words in message, f"{cls}.test_{check} failed without saying {words!r}:\n{message}"
