"""The Synapse test harness (tests/matrix_server.py), exercised with the real matrix-nio client."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest
from nio import (
    AsyncClient,
    AsyncClientConfig,
    JoinResponse,
    LoginResponse,
    RoomCreateResponse,
    RoomMessageText,
    RoomSendError,
    RoomSendResponse,
    SyncResponse,
)

from tests.matrix_server import SynapseServer, SynapseServerError, run_scenario, unique

PASSWORD = "correct horse battery staple"

# No encryption (room_send then needs no synced room state), and hand every 429 and every
# timeout back to the test instead of letting nio sleep and retry.
CLIENT_CONFIG = AsyncClientConfig(encryption_enabled=False, max_limit_exceeded=0, max_timeouts=0, store_sync_tokens=False)



def client_for(server: SynapseServer, user_id: str, access_token: str) -> AsyncClient:
    client = AsyncClient(server.base_url, user_id, config=CLIENT_CONFIG)
    client.user_id = user_id
    client.access_token = access_token
    return client


async def send_text(client: AsyncClient, room_id: str, body: str) -> RoomSendResponse | RoomSendError:
    return await client.room_send(room_id, "m.room.message", {"msgtype": "m.text", "body": body})


def test_two_users_talk_through_a_room(synapse: SynapseServer) -> None:
    alice_id, _ = synapse.register(unique("alice"), PASSWORD)
    bob_id, bob_token = synapse.register(unique("bob"), PASSWORD)
    assert alice_id.endswith(":localhost") and bob_id.startswith("@bob-")

    async def scenario() -> None:
        alice = AsyncClient(synapse.base_url, alice_id, config=CLIENT_CONFIG)
        bob = client_for(synapse, bob_id, bob_token)
        try:
            login = await alice.login(PASSWORD, device_name="harness test")  # nio's own password login
            assert isinstance(login, LoginResponse), login

            created = await alice.room_create(name="Bürgerbot-Test", invite=[bob_id])
            assert isinstance(created, RoomCreateResponse), created
            room_id = created.room_id

            invited = await bob.sync(timeout=0, full_state=True)
            assert isinstance(invited, SyncResponse), invited
            assert room_id in invited.rooms.invite

            joined = await bob.join(room_id)
            assert isinstance(joined, JoinResponse), joined

            sent = await send_text(alice, room_id, "Wann hat das Bürgerbüro geöffnet?")
            assert isinstance(sent, RoomSendResponse), sent

            seen: list[RoomMessageText] = []
            deadline = time.monotonic() + 20
            while not seen and time.monotonic() < deadline:
                response = await bob.sync(timeout=2000)
                assert isinstance(response, SyncResponse), response
                room = response.rooms.join.get(room_id)
                if room is not None:
                    seen = [e for e in room.timeline.events if isinstance(e, RoomMessageText) and e.event_id == sent.event_id]
            assert seen, "bob never saw alice's message"
            assert seen[0].sender == alice_id
            assert seen[0].body == "Wann hat das Bürgerbüro geöffnet?"
        finally:
            await alice.close()
            await bob.close()

    run_scenario(synapse, scenario)


async def burst(server: SynapseServer, count: int) -> list[RoomSendResponse | RoomSendError]:
    """Register a user, create a room and send ``count`` messages back to back; stop at the first 429."""
    user_id, token = server.register(unique("burst"), PASSWORD)
    client = client_for(server, user_id, token)
    try:
        created = await client.room_create()
        assert isinstance(created, RoomCreateResponse), created
        responses: list[RoomSendResponse | RoomSendError] = []
        for n in range(count):
            responses.append(await send_text(client, created.room_id, f"Nachricht {n}"))
            if isinstance(responses[-1], RoomSendError):
                break
        return responses
    finally:
        await client.close()


def test_default_rate_limits_answer_429(synapse_rate_limited: SynapseServer) -> None:
    async def scenario() -> None:
        responses = await burst(synapse_rate_limited, 30)
        errors = [r for r in responses if isinstance(r, RoomSendError)]
        assert errors, f"no 429 after {len(responses)} messages"
        assert errors[0].status_code == "M_LIMIT_EXCEEDED"
        assert errors[0].retry_after_ms and errors[0].retry_after_ms > 0
        # Synapse's default rc_message is burst_count 10, so the first few go through.
        assert all(isinstance(r, RoomSendResponse) for r in responses[:5])

    run_scenario(synapse_rate_limited, scenario)


def test_relaxed_server_takes_a_burst(synapse: SynapseServer) -> None:
    async def scenario() -> None:
        responses = await burst(synapse, 15)  # the defaults would refuse the 11th
        assert len(responses) == 15
        assert all(isinstance(r, RoomSendResponse) for r in responses), [r for r in responses if isinstance(r, RoomSendError)][:1]

    run_scenario(synapse, scenario)


def test_register_and_login_helpers(synapse: SynapseServer) -> None:
    localpart = unique("carol")
    user_id, token = synapse.register(localpart, PASSWORD, admin=True)
    assert user_id == synapse.user_id(localpart) and token
    assert synapse.login(localpart, PASSWORD)[0] == user_id
    assert synapse.login(user_id, PASSWORD)[0] == user_id
    with pytest.raises(SynapseServerError, match="M_USER_IN_USE"):
        synapse.register(localpart, PASSWORD)
    with pytest.raises(SynapseServerError, match=r"HTTP 403.*M_FORBIDDEN"):
        synapse.login(localpart, "wrong")


def test_crash_at_start_reports_log_tail(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without spending a Synapse start-up: a "Synapse" that dies at once must surface its output."""
    server = SynapseServer(tmp_path)
    crash = "import sys; print('Error in configuration: boom-42', file=sys.stderr); sys.exit(1)"
    monkeypatch.setattr(server, "command", lambda: [sys.executable, "-c", crash])
    with pytest.raises(SynapseServerError, match=r"(?s)exited with code 1.*boom-42"):
        server.start()
    assert not server.is_running()
    server.stop()  # idempotent
