"""The pytest plugin: found through its entry point, fixtures that start and stop."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Callable
from importlib.metadata import entry_points
from pathlib import Path

import httpx
import pytest
import writeback_testing
from writeback_testing import Step, WebhookReceiver


def test_entry_point_is_registered_and_loaded(pytestconfig: pytest.Config) -> None:
    (point,) = [ep for ep in entry_points(group="pytest11") if ep.name == "writeback"]
    assert point.value == "writeback_testing.pytest_plugin"
    assert pytestconfig.pluginmanager.hasplugin("writeback")


def test_package_exports() -> None:
    assert sorted(writeback_testing.__all__) == [
        "LoopbackHandler",
        "LoopbackServer",
        "ReceivedRequest",
        "Step",
        "WebhookReceiver",
    ]
    for name in writeback_testing.__all__:
        assert getattr(writeback_testing, name).__name__ == name
    with pytest.raises(AttributeError):
        _ = writeback_testing.Nope  # type: ignore[attr-defined]


def test_loading_the_plugin_imports_no_simulator() -> None:
    code = (
        "import sys, writeback_testing.pytest_plugin as p; "
        "print(sorted(m for m in ('http.server', 'writeback', 'writeback_testing.webhook') "
        "if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=30, check=True
    )
    assert result.stdout.strip() == "[]"


def test_receiver_fixture_is_started(
    writeback_receiver: WebhookReceiver, client: httpx.Client
) -> None:
    assert writeback_receiver.running
    assert client.post(writeback_receiver.url + "/x", json={"a": 1}).status_code == 200
    assert [r.json for r in writeback_receiver.deliveries] == [{"a": 1}]


def test_receiver_factory_passes_arguments(
    writeback_receiver_factory: Callable[..., WebhookReceiver], client: httpx.Client
) -> None:
    secured = writeback_receiver_factory(basic_auth=("u", "p"))
    failing = writeback_receiver_factory(plan=[Step(503)])
    assert secured.url != failing.url
    assert client.post(secured.url).status_code == 401
    assert client.post(failing.url).status_code == 503


def test_db_url_points_into_tmp_path(writeback_db_url: str, tmp_path: Path) -> None:
    assert writeback_db_url == f"sqlite:///{tmp_path.as_posix()}/writeback.db"
    assert writeback_db_url.startswith("sqlite:////")  # absolute path
    assert not (tmp_path / "writeback.db").exists()


def test_fixtures_stop_their_receivers_and_are_not_autouse(tmp_path: Path) -> None:
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    (tmp_path / "test_inner.py").write_text(
        textwrap.dedent(
            """
            import httpx, pytest
            from writeback_testing import WebhookReceiver

            made = []

            def test_uses_fixtures(writeback_receiver, writeback_receiver_factory):
                made.extend([writeback_receiver, writeback_receiver_factory(),
                             writeback_receiver_factory()])
                assert all(rx.running for rx in made)

            def test_they_were_stopped():
                assert len(made) == 3
                assert not any(rx.running for rx in made)

            def test_nothing_autouse(request):
                assert not [f for f in request.fixturenames if f.startswith("writeback_")]
            """
        )
    )
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "-W",
            "error",
            "-q",
            "--rootdir",
            str(tmp_path),
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 passed" in result.stdout
