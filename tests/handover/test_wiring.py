"""The hand-over put together from the settings: the desk in the storage, the dialogue asking it,
the staff room service beside the channels, and what `config check` says."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import Settings
from bot.core.live import LiveKnowledge
from bot.core.models import Reply
from bot.handover.desk import SqlHandoverDesk
from bot.handover.staff_room import StaffRoomService
from bot.handover.wiring import handover_problems, handover_services
from bot.ops.metrics import Metrics
from bot.wiring import build_dialogue, open_storage

ACCOUNT = {"homeserver": "http://127.0.0.1:1", "user_id": "@uebergabe:localhost"}


class MatrixDeliverer:
    idempotent = True

    @property
    def address(self) -> tuple[str, str]:
        return "matrix", "default"

    async def deliver(self, chat_id: str, reply: Reply, key: str) -> None:
        raise AssertionError("not sent in this test")


def settings_for(tmp_path: Path, kb: Path, handover: dict[str, object] | None = None, account: bool = True) -> Settings:
    profile: dict[str, object] = {"name": "default", "matrix": {"homeserver": "http://127.0.0.1:1", "user_id": "@bot:localhost"}}
    if handover is not None:
        profile["handover"] = handover
    return Settings(knowledge_dirs=[kb], data_dir=tmp_path / "data", database_url=f"sqlite:///{tmp_path / 'bot.db'}",
                    profiles=[profile], handover={"matrix": ACCOUNT} if account else {})  # type: ignore[arg-type]


def test_configured_staff_room_gives_the_dialogue_a_desk_and_the_runtime_a_service(tmp_path: Path, tiny_kb: Path,
                                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BUERGERBOT_HANDOVER_MATRIX_PASSWORD", "secret")
    settings = settings_for(tmp_path, tiny_kb, {"staff_room": "!team:localhost"})
    storage = open_storage(settings)
    assert isinstance(storage.handover, SqlHandoverDesk)
    assert build_dialogue(settings, LiveKnowledge([tiny_kb]), storage, settings.profiles[0]).handover is storage.handover
    services = handover_services(settings, storage, [MatrixDeliverer(), object()], Metrics())
    assert len(services) == 1 and isinstance(services[0], StaffRoomService)
    assert services[0].settings.staff_rooms == ("!team:localhost",)
    assert storage.handover.reachable == {("matrix", "default")}
    storage.close()


def test_without_a_staff_room_or_account_nothing_is_built(tmp_path: Path, tiny_kb: Path) -> None:
    for settings in (settings_for(tmp_path, tiny_kb), settings_for(tmp_path, tiny_kb, {"staff_room": "!team:localhost"}, account=False)):
        storage = open_storage(settings)
        assert storage.handover is None
        assert handover_services(settings, storage, [MatrixDeliverer()]) == []
        storage.close()


def test_config_check_names_an_unknown_office_a_missing_account_and_a_missing_secret(tmp_path: Path, tiny_kb: Path,
                                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BUERGERBOT_HANDOVER_MATRIX_PASSWORD", raising=False)
    monkeypatch.delenv("BUERGERBOT_HANDOVER_MATRIX_ACCESS_TOKEN", raising=False)
    errors, _ = handover_problems(settings_for(tmp_path, tiny_kb, {"staff_room": "!t:localhost", "office": "rathaus"}), {"buergertelefon"})
    assert any("'rathaus' is not an office" in e for e in errors)
    assert any("BUERGERBOT_HANDOVER_MATRIX_PASSWORD" in e for e in errors)
    errors, _ = handover_problems(settings_for(tmp_path, tiny_kb, {"staff_room": "!t:localhost"}, account=False), {"buergertelefon"})
    assert errors == ["profile default: handover: a staff room is set, but not the account that posts there ([handover.matrix])"]
