"""Standard Webhooks signing helpers."""

from __future__ import annotations

import time

import pytest
from writeback_testing.webhook import sign, verify

# The published Standard Webhooks example (standard-webhooks/standard-webhooks test vectors).
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
MSG_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
TIMESTAMP = 1614265330
BODY = '{"test": 2432232314}'
SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def headers(signature: str = SIGNATURE, timestamp: int = TIMESTAMP) -> dict[str, str]:
    return {
        "Webhook-Id": MSG_ID,
        "Webhook-Timestamp": str(timestamp),
        "Webhook-Signature": signature,
    }


def test_sign_matches_the_published_vector() -> None:
    assert sign(SECRET, MSG_ID, TIMESTAMP, BODY) == SIGNATURE
    assert sign(SECRET, MSG_ID, str(TIMESTAMP), BODY.encode()) == SIGNATURE
    assert sign(SECRET.removeprefix("whsec_"), MSG_ID, TIMESTAMP, BODY) == SIGNATURE


def test_verify_accepts_any_of_several_signatures() -> None:
    assert verify(SECRET, headers(), BODY)
    assert verify(SECRET, headers(f"v1,AAAA v2,xyz {SIGNATURE}"), BODY.encode())


@pytest.mark.parametrize(
    ("hdrs", "body"),
    [
        (headers(), BODY + " "),
        (headers("v1,AAAA"), BODY),
        (headers(SIGNATURE.replace("v1,", "v2,")), BODY),
        (headers(signature="ünïcode"), BODY),
        ({k: v for k, v in headers().items() if k != "Webhook-Id"}, BODY),
        ({**headers(), "Webhook-Id": "msg_other"}, BODY),
        ({**headers(), "Webhook-Timestamp": str(TIMESTAMP + 1)}, BODY),
    ],
)
def test_verify_rejects(hdrs: dict[str, str], body: str) -> None:
    assert not verify(SECRET, hdrs, body)


def test_tolerance_checks_the_timestamp_only_when_asked() -> None:
    now = int(time.time())
    fresh = headers(sign(SECRET, MSG_ID, now, BODY), now)
    assert verify(SECRET, headers(), BODY)
    assert not verify(SECRET, headers(), BODY, tolerance=300)
    assert verify(SECRET, fresh, BODY, tolerance=300)


def test_bad_secrets_are_refused() -> None:
    for secret in ["whsec_", "whsec_***", "whsec_abc"]:
        with pytest.raises(ValueError, match="signing secret"):
            sign(secret, MSG_ID, TIMESTAMP, BODY)
