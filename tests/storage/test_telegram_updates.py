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
