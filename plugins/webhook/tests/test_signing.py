"""Standard Webhooks signatures: the published vector, and what receivers check."""

from __future__ import annotations

import pytest
from writeback_webhook import sign, verify_signature

# The Standard Webhooks reference test vector: a receiver's library must accept ours.
VECTOR_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
VECTOR_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
VECTOR_TS = 1614265330
VECTOR_BODY = b'{"test": 2432232314}'
VECTOR_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def vector_headers(signature: str = VECTOR_SIGNATURE, **overrides: str) -> dict[str, str]:
    headers = {
        "webhook-id": VECTOR_ID,
        "webhook-timestamp": str(VECTOR_TS),
        "webhook-signature": signature,
    }
    headers.update(overrides)
    return headers


def test_sign_reproduces_the_reference_vector() -> None:
    assert sign(VECTOR_SECRET, VECTOR_ID, VECTOR_TS, VECTOR_BODY) == VECTOR_SIGNATURE
    assert sign(VECTOR_SECRET.removeprefix("whsec_"), VECTOR_ID, VECTOR_TS, VECTOR_BODY) == (
        VECTOR_SIGNATURE
    )


def test_verify_accepts_the_vector_in_any_header_case() -> None:
    headers = {k.title(): v for k, v in vector_headers().items()}
    assert verify_signature(VECTOR_SECRET, headers, VECTOR_BODY, now=VECTOR_TS)
    assert verify_signature(VECTOR_SECRET, headers, VECTOR_BODY.decode(), now=VECTOR_TS)


def test_verify_accepts_any_of_several_signatures() -> None:
    rotating = f"v1,bm9wZQ== {VECTOR_SIGNATURE}"
    assert verify_signature(VECTOR_SECRET, vector_headers(rotating), VECTOR_BODY, now=VECTOR_TS)


@pytest.mark.parametrize(
    ("headers", "body"),
    [
        (vector_headers(), b'{"test": 2432232315}'),
        (vector_headers(**{"webhook-id": "msg_other"}), VECTOR_BODY),
        (vector_headers(**{"webhook-timestamp": str(VECTOR_TS + 1)}), VECTOR_BODY),
        (vector_headers("v1,bm9wZQ=="), VECTOR_BODY),
        (vector_headers(**{"webhook-timestamp": "soon"}), VECTOR_BODY),
        ({"webhook-id": VECTOR_ID, "webhook-timestamp": str(VECTOR_TS)}, VECTOR_BODY),
    ],
    ids=["body", "id", "timestamp", "signature", "bad-timestamp", "unsigned"],
)
def test_verify_refuses_any_change(headers: dict[str, str], body: bytes) -> None:
    assert not verify_signature(VECTOR_SECRET, headers, body, tolerance=None)


def test_verify_refuses_another_secret() -> None:
    other = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD"
    assert not verify_signature(other, vector_headers(), VECTOR_BODY, tolerance=None)


def test_verify_refuses_a_stale_or_future_timestamp() -> None:
    headers = vector_headers()
    assert verify_signature(VECTOR_SECRET, headers, VECTOR_BODY, now=VECTOR_TS + 300)
    assert not verify_signature(VECTOR_SECRET, headers, VECTOR_BODY, now=VECTOR_TS + 301)
    assert not verify_signature(VECTOR_SECRET, headers, VECTOR_BODY, now=VECTOR_TS - 301)
    assert verify_signature(VECTOR_SECRET, headers, VECTOR_BODY, tolerance=None)


def test_a_malformed_secret_raises_without_quoting_it() -> None:
    with pytest.raises(ValueError) as caught:
        verify_signature("whsec_%%%secret%%%", vector_headers(), VECTOR_BODY, tolerance=None)
    assert "secret%%%" not in str(caught.value)
