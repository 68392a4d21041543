"""``writeback receive`` as a real process, fed by a real ``writeback worker``."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from writeback_testing.receive import parse_fail, parse_status
from writeback_testing.webhook import Step, sign

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
PASSWORD = "s3cret-Pa55"


def cli(tmp_path: Path, *args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "WRITEBACK_SECRET_KEY"}
    return subprocess.run(
        [sys.executable, "-m", "writeback", "--db", f"sqlite:///{tmp_path / 'wb.db'}", *args],
        input=input,
        capture_output=True,
        text=True,
        env={**env, "COLUMNS": "200"},
        timeout=120,
    )


def deliver_one(tmp_path: Path, url: str, password: str) -> subprocess.CompletedProcess[str]:
    """Add a webhook connector (Basic auth, signing secret) to ``url``, dispatch, drain."""
    row = {
        "name": "crm",
        "type": "webhook",
        "uri": f"{url}/hooks/appointments",
        "api_type": "json",
        "source_app": "CRONUSUS",
        "retry": {"schedule": [0.1, 0.1, 0.1]},
        "auth": {"method": "basic", "username": "planner", "password": password},
        "options": {"signing_secret": SECRET},
    }
    (tmp_path / "hooks.json").write_text(json.dumps([row]))
    assert cli(tmp_path, "connectors", "add", str(tmp_path / "hooks.json")).returncode == 0
    event = {
        "action": "create",
        "appointment": {
            "appointmentGuid": "6f0c",
            "sourceApp": "CRONUSUS",
            "subject": "Boiler check",
            "start": "2026-11-24T08:00:00Z",
            "end": "2026-11-24T10:00:00Z",
        },
    }
    assert cli(tmp_path, "dispatch", "-", input=json.dumps(event)).returncode == 0
    return cli(tmp_path, "worker", "--until-idle")


def test_a_worker_delivers_after_two_planned_503s(tmp_path: Path, receive: Any) -> None:
    receiver = receive(
        "--basic", f"planner:{PASSWORD}", "--signing-secret", SECRET, "--fail", "503x2"
    )
    worker = deliver_one(tmp_path, receiver.url, PASSWORD)
    assert worker.returncode == 0, worker.stderr
    assert "delivered 1" in worker.stdout
    blocks = [receiver.block() for _ in range(3)]
    headings = [re.sub(r"^#(\d+) \d\d:\d\d:\d\d ", r"#\1 ", b[0]) for b in blocks]
    assert headings == [
        "#1 POST /hooks/appointments -> 503",
        "#2 POST /hooks/appointments -> 503",
        "#3 POST /hooks/appointments -> 200",
    ]
    for lines in blocks:
        assert "  authorization: Basic *** (redacted)" in lines
        assert "  basic auth: valid (user 'planner')" in lines
        assert "  signature: valid" in lines
        assert "  content-type: application/json" in lines
        assert any(re.fullmatch(r"  webhook-id: dlv_\w+", line) for line in lines)
        # The body pretty-printed, one key a line.
        assert '      "type": "appointment.created",' in lines
        assert '        "subject": "Boiler check",' in lines
    code, rest, stderr = receiver.stop()
    assert code == 0, stderr
    assert "stopped after 3 request(s)" in rest
    everything = "\n".join(receiver.seen) + stderr
    assert PASSWORD not in everything and SECRET not in everything


def test_a_wrong_password_is_refused_with_401(tmp_path: Path, receive: Any) -> None:
    receiver = receive("--basic", f"planner:{PASSWORD}", "--signing-secret", SECRET)
    worker = deliver_one(tmp_path, receiver.url, "not-the-password")
    assert "delivered 0" in worker.stdout, worker.stdout + worker.stderr
    lines = receiver.block()
    assert lines[0].endswith("POST /hooks/appointments -> 401")
    assert "  basic auth: wrong: the password for 'planner' does not match; answered 401" in lines
    assert "  signature: valid" in lines
    code, _, stderr = receiver.stop(signal.SIGINT)  # Ctrl-C ends it as cleanly as SIGTERM
    assert code == 0, stderr
    assert "Traceback" not in stderr
    assert "not-the-password" not in "\n".join(receiver.seen)


def test_status_answers_every_post_and_signatures_are_judged(receive: Any) -> None:
    receiver = receive("--status", "410", "--signing-secret", SECRET)
    body = b'{"a": 1}'
    good = {"webhook-id": "msg_1", "webhook-timestamp": str(int(time.time()))}
    good["webhook-signature"] = sign(SECRET, "msg_1", good["webhook-timestamp"], body)
    forged = {
        **good,
        "webhook-signature": sign("whsec_" + "QUFBQQ==", "msg_1", good["webhook-timestamp"], body),
    }
    old = {**good, "webhook-timestamp": "1000"}
    old["webhook-signature"] = sign(SECRET, "msg_1", "1000", body)
    with httpx.Client(timeout=10) as client:
        for headers in (good, forged, {}, old):
            answer = client.post(f"{receiver.url}/x?y=1", content=body, headers=headers)
            assert answer.status_code == 410
        assert client.get(f"{receiver.url}/probe").status_code == 200
    blocks = [receiver.block() for _ in range(4)]
    verdicts = [next(line for line in b if line.startswith("  signature:")) for b in blocks]
    assert verdicts[0] == "  signature: valid"
    assert verdicts[1].startswith("  signature: INVALID: no v1 signature matches")
    assert verdicts[2] == (
        "  signature: missing: no webhook-id, webhook-timestamp, webhook-signature header"
    )
    assert re.fullmatch(
        r"  signature: valid, but webhook-timestamp is \d+ s from now .*", verdicts[3]
    )
    probe = receiver.block()
    assert probe[0].endswith("GET /probe -> 200") and "  (no body)" in probe
    assert receiver.stop()[0] == 0


def test_reset_drops_the_connection(receive: Any) -> None:
    receiver = receive("--fail", "reset,429")
    with httpx.Client(timeout=10) as client:
        with pytest.raises(httpx.TransportError):
            client.post(receiver.url, content=b"plain text")
        assert client.post(receiver.url, content=b"plain text").status_code == 429
        assert client.post(receiver.url, content=b"plain text").status_code == 200
    first = receiver.block()
    assert first[0].endswith("POST / -> connection reset (no answer)")
    assert first[-2:] == ["  body:", "    plain text"]
    assert receiver.block()[0].endswith("-> 429")
    assert receiver.stop()[0] == 0


@pytest.mark.parametrize(
    ("args", "sentence"),
    [
        (["--fail", "503y2"], "--fail item '503y2' is not ANSWER[xCOUNT]"),
        (["--fail", "503x0"], "--fail item '503x0' is not ANSWER[xCOUNT]"),
        (["--fail", "99"], "--fail item '99' is not ANSWER[xCOUNT]"),
        (["--fail", "700"], "--fail item '700' has status 700; give one from 200 to 599."),
        (["--status", "abc"], "--status 'abc' is not an HTTP status"),
        (["--status", "101"], "--status '101' is not an HTTP status"),
        (["--basic", "planner"], "--basic must be USER:PASS"),
        (["--api-key", "s3cret"], "--api-key must be HEADER:VALUE"),
        (["--api-key", "X Api Key:s3cret"], "--api-key must be HEADER:VALUE"),
        (["--api-key", "X-Api-Key:"], "--api-key must be HEADER:VALUE"),
        (["--signing-secret", "s3cret"], "--signing-secret must be 'whsec_' followed by base64"),
        (["--signing-secret", "env:WB_NOT_SET_HERE"], "the variable WB_NOT_SET_HERE is not set"),
        (["--api-key", "X-Api-Key:env:WB_NOT_SET_HERE"], "the variable WB_NOT_SET_HERE is not set"),
        (["--port", "70000"], "--port 70000 is not a port"),
    ],
)
def test_bad_options_are_one_sentence_and_exit_2(args: list[str], sentence: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "writeback", "receive", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr.startswith("error: ") and sentence in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert "s3cret" not in proc.stderr


def test_a_port_in_use_is_one_sentence() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = subprocess.run(
            [sys.executable, "-m", "writeback", "receive", "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        f"error: WB-100: port {port} on 127.0.0.1 is in use; "
        "choose another with --port (0 picks a free one)."
    )


def test_fail_grammar() -> None:
    assert parse_fail("503x2") == [Step(503), Step(503)]
    assert parse_fail("429, reset ,200x1") == [Step(429), Step(drop=True), Step(200)]
    assert parse_status("410") == 410
    for bad in ("", "503x", "x2", "503x1001", "5033", "reset x2"):
        with pytest.raises(ValueError, match="is not ANSWER"):
            parse_fail(bad)
