"""Encrypted messages whose room key comes after the message, against a real Synapse."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

from nio import Api, RoomKeyRequest

from tests.channels.test_matrix import PASSWORD, Citizen, bot_for, started
from tests.channels.test_matrix_delivery import joined
from tests.fakes.aio import eventually
from tests.matrix_server import SynapseServer, run_scenario, unique


class LateKeyCitizen(Citizen):
    """A citizen whose client sends an encrypted message first and the room key for it later,
    as happens when the key's to-device message is delayed or retried."""

    def __init__(self, server: SynapseServer, store: Path) -> None:
        super().__init__(server, store, encryption=True)
        self.key_requests: list[RoomKeyRequest] = []

    async def say_before_the_key(self, room_id: str, text: str) -> tuple[str, list[dict[str, Any]]]:
        """Encrypt and send ``text`` with a new megolm session without giving anyone its key;
        returns the session id and the held to-device messages that carry the key."""
        client = self.client
        assert client.olm is not None
        await self.sync()
        missing = client.get_missing_sessions(room_id)
        if missing:
            await client.keys_claim(missing)
        held = [to_device for _, to_device in client.olm.share_group_session_parallel(
            room_id, list(client.rooms[room_id].users), ignore_unverified_devices=True)]
        session = client.olm.outbound_group_sessions[room_id]
        session.shared = True  # the key messages exist; they are only not sent yet
        content = client.olm.group_encrypt(room_id, {"type": "m.room.message", "content": {"msgtype": "m.text", "body": text}})
        method, path, data = Api.room_send(client.access_token, room_id, "m.room.encrypted", content, uuid.uuid4())
        response = await client.send(method, path, data)
        body = await response.text()
        assert response.status == 200, body
        return session.id, held

    async def send_keys(self, held: list[dict[str, Any]]) -> None:
        for to_device in held:
            method, path, data = Api.to_device(self.client.access_token, "m.room.encrypted", to_device, uuid.uuid4())
            response = await self.client.send(method, path, data)
            body = await response.text()
            assert response.status == 200, body

    async def requests_for(self, session_id: str) -> list[RoomKeyRequest]:
        resp = await self.client.sync(timeout=0)
        self.key_requests.extend(event for event in getattr(resp, "to_device_events", []) if isinstance(event, RoomKeyRequest))
        return [request for request in self.key_requests if request.session_id == session_id]


def test_message_waits_for_its_late_key_across_a_restart(synapse: SynapseServer, tiny_kb: Path, tmp_path: Path) -> None:
    bot_name = unique("bot")
    synapse.register(bot_name, PASSWORD)

    async def scenario() -> None:
        bot = await started(bot_for(synapse, tiny_kb, tmp_path / "bot", bot_name, encryption=True))
        citizen = LateKeyCitizen(synapse, tmp_path / "citizen")
        await citizen.login()
        room = await citizen.room_with([bot.settings.user_id], encrypted=True)
        await joined(bot, room, encrypted=True)
        session_id, held = await citizen.say_before_the_key(room, "Perso beantragen")

        async def asked() -> bool:  # the bot cannot read it yet: it keeps it and asks the sender for the key
            return bool(await citizen.requests_for(session_id))

        await eventually(asked, timeout=30, every=0.2)
        [request] = await citizen.requests_for(session_id)
        assert request.sender == bot.settings.user_id and request.room_id == room
        await bot.stop()
        again = await started(bot_for(synapse, tiny_kb, tmp_path / "bot", bot_name, encryption=True))
        await asyncio.sleep(1)
        await citizen.sync()
        assert citizen.notices == []
        await citizen.send_keys(held)  # the key arrives after the message
        [answer] = await citizen.wait_notices(1, timeout=45)
        assert "personalausweis" in answer.body and answer.decrypted
        await citizen.say(room, "Sperrmüll anmelden")
        await citizen.wait_notices(2, timeout=45)
        await asyncio.sleep(1.5)
        await citizen.sync()
        assert len(citizen.notices) == 2 and "sperrmuell" in citizen.notices[1][1].body
        await again.stop()
        await citizen.client.close()

    run_scenario(synapse, scenario, timeout=120)
