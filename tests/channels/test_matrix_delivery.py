"""Reminder delivery through the Matrix adapter against a real Synapse: the delivery key is the
transaction id, so a resend after a crash must not show a second message."""

from __future__ import annotations

from pathlib import Path

import pytest
from nio import RoomMessageNotice

from bot.channels.matrix import MatrixChannel
from bot.core.models import Button, Reply
from bot.core.ports import Deliverer, DeliveryFailed
from tests.channels.test_matrix import PASSWORD, Citizen, bot_for, started
from tests.fakes.aio import eventually
from tests.matrix_server import SynapseServer, run_scenario, unique

REMINDER = Reply("Morgen **10:30**: Termin im Bürgerbüro <Raum 2>",
                 buttons=(Button("Termin verschieben", url="https://musterstadt.example/termin?a=1&b=2"),))
MARKER = Reply("Letzte Nachricht dieses Tests")


async def joined(bot: MatrixChannel, room_id: str, encrypted: bool = False) -> None:
    """Until the bot's sync loop has accepted the invite (and, for E2EE, knows the room is encrypted)."""

    async def ready() -> bool:
        room = bot.client.rooms.get(room_id)
        return room is not None and bot.settings.user_id in room.users and room.encrypted == encrypted

    await eventually(ready)


def notices_from(citizen: Citizen, bot: MatrixChannel) -> list[RoomMessageNotice]:
    return [event for _, event in citizen.notices if event.sender == bot.settings.user_id]


def test_channel_is_an_idempotent_deliverer(synapse: SynapseServer, tiny_kb: Path, tmp_path: Path) -> None:
    bot = bot_for(synapse, tiny_kb, tmp_path / "bot", unique("bot"), encryption=False, profile="welcome")
    assert isinstance(bot, Deliverer)
    assert bot.idempotent and bot.address == ("matrix", "welcome")


def test_resend_after_crash_shows_once_and_other_keys_show_again(synapse: SynapseServer, tiny_kb: Path, tmp_path: Path) -> None:
    bot_name = unique("bot")
    synapse.register(bot_name, PASSWORD)

    async def scenario() -> None:
        citizen = Citizen(synapse, tmp_path / "citizen")
        await citizen.login()
        first = await started(bot_for(synapse, tiny_kb, tmp_path / "bot", bot_name, encryption=False))
        room = await citizen.room_with([first.settings.user_id])
        await joined(first, room)
        await first.deliver(room, REMINDER, "reminder-17-attempt")
        await first.stop()  # the worker dies after the send, before it could record "sent"
        # A second worker with the same account store restores the same device: same transaction scope.
        second = await started(bot_for(synapse, tiny_kb, tmp_path / "bot", bot_name, encryption=False))
        await second.deliver(room, REMINDER, "reminder-17-attempt")
        await second.deliver(room, REMINDER, "reminder-17-attempt")
        await second.deliver(room, REMINDER, "reminder-18-attempt")  # same text, another reminder
        await second.deliver(room, MARKER, "marker")  # in the timeline after every event the sends above made
        await citizen.wait_notices(3)
        notices = notices_from(citizen, second)
        assert [n.body for n in notices] == [MatrixChannel.render(REMINDER)["body"]] * 2 + ["Letzte Nachricht dieses Tests"]
        assert notices[0].event_id != notices[1].event_id
        content = notices[0].source["content"]
        assert content["msgtype"] == "m.notice" and content["format"] == "org.matrix.custom.html"
        assert content["formatted_body"].startswith("Morgen <b>10:30</b>: Termin im Bürgerbüro &lt;Raum 2&gt;")
        assert '<a href="https://musterstadt.example/termin?a=1&amp;b=2">Termin verschieben</a>' in content["formatted_body"]
        assert "Termin verschieben: https://musterstadt.example/termin?a=1&b=2" in content["body"]
        await second.stop()
        await citizen.client.close()

    run_scenario(synapse, scenario)


@pytest.mark.parametrize("encryption", [False, True])
def test_room_the_bot_is_not_in_fails_permanently(synapse: SynapseServer, tiny_kb: Path, tmp_path: Path, encryption: bool) -> None:
    bot_name = unique("bot")
    synapse.register(bot_name, PASSWORD)

    async def scenario() -> None:
        citizen = Citizen(synapse, tmp_path / "citizen")
        await citizen.login()
        foreign = await citizen.room_with([])
        bot = await started(bot_for(synapse, tiny_kb, tmp_path / "bot", bot_name, encryption=encryption))
        try:
            for room in (foreign, f"!nonexistent-{unique('room')}:{synapse.server_name}"):
                # Any other exception (nio's own LocalProtocolError used to escape) fails the test too.
                with pytest.raises(DeliveryFailed) as failed:
                    await bot.deliver(room, REMINDER, f"key-{room}")
                assert failed.value.permanent, room
        finally:
            await bot.stop()
            await citizen.client.close()

    run_scenario(synapse, scenario)


def test_encrypted_room_notice_is_decrypted_once(synapse: SynapseServer, tiny_kb: Path, tmp_path: Path) -> None:
    bot_name = unique("bot")
    synapse.register(bot_name, PASSWORD)

    async def scenario() -> None:
        bot = await started(bot_for(synapse, tiny_kb, tmp_path / "bot", bot_name, encryption=True))
        citizen = Citizen(synapse, tmp_path / "citizen", encryption=True)
        await citizen.login()
        room = await citizen.room_with([bot.settings.user_id], encrypted=True)
        await joined(bot, room, encrypted=True)
        await citizen.sync()  # the citizen learns the bot's devices before the room key arrives
        await bot.deliver(room, REMINDER, "reminder-e2ee")
        await bot.deliver(room, REMINDER, "reminder-e2ee")
        await bot.deliver(room, MARKER, "marker")
        await citizen.wait_notices(2, timeout=45)
        notices = notices_from(citizen, bot)
        assert [n.body for n in notices] == [MatrixChannel.render(REMINDER)["body"], "Letzte Nachricht dieses Tests"]
        assert all(n.decrypted for n in notices)
        content = notices[0].source["content"]
        assert content["msgtype"] == "m.notice" and "<b>10:30</b>" in content["formatted_body"]
        await bot.stop()
        await citizen.client.close()

    run_scenario(synapse, scenario)
