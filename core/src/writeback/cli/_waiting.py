"""``worker --until-idle`` says on stderr when the next attempt is due while it waits.

A delivery that keeps failing is retried on its schedule (a day and more, all
told); until this, a worker run ``--until-idle`` sat silent for all of it.  Now
it writes, when it starts waiting for a later attempt and whenever that moment
changes::

    waiting: next attempt of 1 delivery due at 2026-12-06T14:03:05Z (in 4 m 12 s)

and again every :data:`REMIND_EVERY` seconds while the wait goes on.  Nothing is
written while an attempt is due or in flight, nor for a wait shorter than
:data:`QUIET_UNDER` seconds.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

from ._output import err, iso

if TYPE_CHECKING:
    from sqlalchemy import Engine

__all__ = ["QUIET_UNDER", "REMIND_EVERY", "announce_waits", "next_due", "span"]

#: A wait shorter than this is not announced (a quick retry is not a wait).
QUIET_UNDER = 5.0
#: While the same wait goes on, say it again this often.
REMIND_EVERY = 300.0
#: How often the store is asked (one indexed query).
LOOK_EVERY = 2.0
#: Attempts due within this of the next one are counted with it.
_SAME_MOMENT = 1.0


def next_due(engine: Engine) -> tuple[float, int] | None:
    """(seconds until the next attempt of a pending delivery, how many are due
    then), on the database's clock; ``None`` when nothing is pending.

    A paused connector's deliveries are left out, as the claim leaves them: they
    are not attempted when due, so they neither hide a later wait nor count in it.
    """
    from sqlalchemy import and_, func, select

    from ..store._schema import deliveries
    from ..store._statements import _not_paused, db_now

    pending = and_(deliveries.c.status == "pending", _not_paused)
    with engine.connect() as conn:
        soonest = select(func.min(deliveries.c.next_attempt_at) - db_now()).where(pending)
        wait = conn.execute(soonest).scalar()
        if wait is None:
            return None
        count = conn.execute(
            select(func.count()).where(
                pending,
                deliveries.c.next_attempt_at - db_now() <= float(wait) + _SAME_MOMENT,
            )
        ).scalar_one()
    return float(wait), int(count)


def span(seconds: float) -> str:
    """A duration for people: ``12 s``, ``4 m 12 s``, ``3 h 5 m``, ``1 d 3 h``."""
    whole = max(0, round(seconds))
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} m"
    if minutes:
        return f"{minutes} m {secs} s"
    return f"{secs} s"


def message(wait: float, count: int, now: float) -> str:
    """The line written for a wait of ``wait`` seconds for ``count`` deliveries."""
    noun = "delivery" if count == 1 else "deliveries"
    return f"waiting: next attempt of {count} {noun} due at {iso(now + wait)} (in {span(wait)})"


async def announce_waits(engine: Engine) -> None:
    """Run beside the worker until cancelled: write :func:`message` as the module says.

    A delivery in flight or due keeps the next wait below :data:`QUIET_UNDER`
    (its due time has passed), so a busy worker is never interrupted by this.
    """
    said_due: float | None = None
    said_at = 0.0
    while True:
        await asyncio.sleep(LOOK_EVERY)
        found = next_due(engine)
        now = time.time()
        if found is None or found[0] < QUIET_UNDER:
            said_due = None
            continue
        wait, count = found
        due = now + wait
        moved = said_due is None or abs(due - said_due) > _SAME_MOMENT
        if moved or now - said_at >= REMIND_EVERY:
            err.print(message(wait, count, now), markup=False)
            said_due, said_at = due, now
