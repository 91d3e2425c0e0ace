"""Claims of Telegram update ids: one process gets each update, per bot profile, and old rows go."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Engine, func, select

from bot.storage.tables import TelegramUpdateRow
from bot.storage.telegram_updates import SqlSeenUpdates

T0 = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)


def test_each_update_is_claimed_once_per_profile(engine: Engine) -> None:
    one, other = SqlSeenUpdates(engine), SqlSeenUpdates(engine)  # two processes of the bot
    assert one.claim("buerger", [1001, 1002]) == {1001, 1002}
    assert other.claim("buerger", [1002, 1003, 1001]) == {1003}
    assert one.claim("welcome", [1002]) == {1002}  # another bot counts its updates on its own
    assert one.claim("buerger", []) == set()


def test_rows_past_their_keep_are_deleted_by_a_later_claim(engine: Engine) -> None:
    now = [T0]
    seen = SqlSeenUpdates(engine, keep=dt.timedelta(days=2), purge_every=dt.timedelta(hours=1), clock=lambda: now[0])
    seen.claim("buerger", [1, 2])
    now[0] = T0 + dt.timedelta(days=2, minutes=30)
    seen.claim("buerger", [3])
    now[0] = T0 + dt.timedelta(days=2, hours=2)
    seen.claim("buerger", [4])
    with engine.connect() as conn:
        kept = conn.execute(select(TelegramUpdateRow.update_id).order_by(TelegramUpdateRow.update_id)).scalars().all()
        assert kept == [3, 4]
        assert conn.execute(select(func.count()).select_from(TelegramUpdateRow)).scalar_one() == 2


def test_a_polled_update_is_answered_again_only_if_nothing_of_its_answer_was_sent(engine: Engine) -> None:
    """A process took on 1, 2 and 3, sent the answer to 2 and died: 1 and 3 fall to the next process
    once the dead one's lease ran out, 2 never; before that they are "busy"."""
    now = [T0]
    lease = dt.timedelta(seconds=30)
    dead, alive = SqlSeenUpdates(engine, clock=lambda: now[0]), SqlSeenUpdates(engine, clock=lambda: now[0])
    assert dead.claim_polled("buerger", [1, 2, 3], "dead", lease) == ({1, 2, 3}, set())
    dead.mark_sending("buerger", [2])
    now[0] = T0 + dt.timedelta(seconds=10)
    assert alive.claim_polled("buerger", [1, 2, 3, 4], "alive", lease) == ({4}, {1, 3})
    now[0] = T0 + dt.timedelta(seconds=31)
    assert alive.claim_polled("buerger", [1, 2, 3], "alive", lease) == ({1, 3}, set())
    # Its own claims, handled without a reply, are done for the process that holds them.
    assert alive.claim_polled("buerger", [1, 4], "alive", lease) == (set(), set())
    # A webhook's claim (claim()) counts as answered.
    assert alive.claim("buerger", [5]) == {5}
    assert alive.claim_polled("buerger", [5], "alive", lease) == (set(), set())


def test_a_released_claim_falls_to_the_next_process_at_once(engine: Engine) -> None:
    lease = dt.timedelta(minutes=10)
    stopping, starting = SqlSeenUpdates(engine), SqlSeenUpdates(engine)
    stopping.claim_polled("buerger", [7, 8, 9], "stopping", lease)
    stopping.mark_sending("buerger", [7])
    stopping.release("buerger", [7, 8], "stopping")  # 7 was sent: its claim stays
    starting.release("buerger", [9], "starting")  # not its own: nothing happens
    assert starting.claim_polled("buerger", [7, 8, 9], "starting", lease) == ({8}, {9})
