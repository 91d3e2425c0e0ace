"""Putting the hand-over together from the settings: the desk the dialogues ask, and the staff
room service beside the channels (the composition root calls these two), and what `config check`
says about the hand-over."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import TYPE_CHECKING

from bot.config import HandoverAccount, Settings, city_clock
from bot.core.ports import Deliverer
from bot.credentials import MissingSecret, secret

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from bot.handover.desk import SqlHandoverDesk
    from bot.handover.staff_room import StaffRoomService
    from bot.ops.metrics import Metrics
    from bot.storage.stores import Storage


def handover_desk(settings: Settings, engine: Engine) -> SqlHandoverDesk | None:
    """The desk when a staff room account and at least one profile's staff room are configured."""
    from bot.handover.desk import HandoverPlace, SqlHandoverDesk

    places = {p.name: HandoverPlace(p.handover.staff_room, p.handover.office) for p in settings.profiles if p.handover is not None}
    if not places or settings.handover.matrix is None:
        return None
    h = settings.handover
    return SqlHandoverDesk(engine, places, city_clock(settings), retention_days=h.retention_days, last_turns=h.last_turns)


def handover_problems(settings: Settings, offices: Collection[str]) -> tuple[list[str], list[str]]:
    """(errors, notes) of the hand-over's configuration, for `buergerbot config check`."""
    errors: list[str] = []
    notes: list[str] = []
    account = settings.handover.matrix
    for profile in settings.profiles:
        if profile.handover is None:
            continue
        where = f"profile {profile.name}: handover"
        if account is None:
            errors.append(f"{where}: a staff room is set, but not the account that posts there ([handover.matrix])")
        if profile.handover.office not in offices:
            errors.append(f"{where}.office: {profile.handover.office!r} is not an office in the knowledge files")
        if profile.telegram is None and profile.matrix is None:
            notes.append(f"{where}: the profile has no Telegram or Matrix account; the web chat cannot receive the team's answers, "
                         "so no hand-over is offered there")
    if account is not None:
        if not any(p.handover for p in settings.profiles):
            notes.append("handover.matrix: no profile names a staff room ([profiles.handover] staff_room), so no hand-over is offered")
        try:
            _account_secrets(account)
        except MissingSecret as exc:
            errors.append(str(exc))
    return errors, notes


def _account_secrets(account: HandoverAccount) -> tuple[str | None, str | None]:
    password, token = secret(account.password_env), secret(account.access_token_env)
    if not password and not token:
        names = " or ".join(n for n in (account.password_env, account.access_token_env) if n)
        raise MissingSecret(f"handover.matrix: password or access token missing (set {names})")
    return password, token


def handover_services(settings: Settings, storage: Storage, channels: Sequence[object], metrics: Metrics | None = None) -> list[StaffRoomService]:
    """The staff room service, delivering the team's answers through ``channels``; raises MissingSecret."""
    import datetime as dt

    from bot.handover.desk import SqlHandoverDesk
    from bot.handover.staff_room import HandoverMetrics, StaffRoomService, StaffRoomSettings

    desk = storage.handover
    account = settings.handover.matrix
    if not isinstance(desk, SqlHandoverDesk) or account is None:
        return []
    password, token = _account_secrets(account)
    deliverers = {channel.address: channel for channel in channels if isinstance(channel, Deliverer)}
    desk.reachable = set(deliverers)
    h = settings.handover
    room_settings = StaffRoomSettings(
        homeserver=account.homeserver, user_id=account.user_id, store_dir=settings.data_dir / "handover",
        staff_rooms=tuple(sorted({place.staff_room for place in desk.places.values()})), password=password, access_token=token,
        device_name=account.device_name, encryption=account.encryption, staff_language=h.staff_language, idle=dt.timedelta(minutes=h.idle_minutes),
        wait=dt.timedelta(hours=h.wait_hours), drafts_dir=h.drafts_dir,
    )
    return [StaffRoomService(room_settings, desk, deliverers, HandoverMetrics(metrics.registry) if metrics is not None else None)]
