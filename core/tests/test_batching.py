"""Which claims a batch request takes along (``_batching.take_batch``)."""

from __future__ import annotations

from collections import deque

from writeback._batching import take_batch
from writeback.store import Claim


def claim(seq: int, connector: int | None, appointment: str) -> Claim:
    return Claim(
        seq=seq,
        id=f"d{seq}",
        event_id=f"e{seq}",
        connector_id=connector,
        connector_name=f"c{connector}",
        action="create",
        attempts=0,
        event={},
        appointment_key=appointment,
    )


def test_takes_claims_of_its_connector_one_per_appointment_leaving_the_rest_in_order():
    first = claim(1, 7, "A")
    ready = deque(
        [claim(2, 8, "B"), claim(3, 7, "A"), claim(4, 7, "C"), claim(5, 7, "D"), claim(6, 7, "E")]
    )
    batch = take_batch(ready, first, 3)
    assert [c.seq for c in batch] == [1, 4, 5]
    assert [c.seq for c in ready] == [2, 3, 6]


def test_a_limit_of_one_or_a_removed_connector_takes_nothing_along():
    ready = deque([claim(2, 7, "B")])
    assert take_batch(ready, claim(1, 7, "A"), 1) == [claim(1, 7, "A")]
    assert take_batch(ready, claim(1, None, "A"), 20) == [claim(1, None, "A")]
    assert [c.seq for c in ready] == [2]
