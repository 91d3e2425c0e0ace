"""The Matrix adapter with the real matrix-nio against a real Synapse on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from nio import (
    AsyncClient,
    AsyncClientConfig,
    LoginResponse,
    RoomCreateResponse,
    RoomMessageNotice,
    RoomPutStateResponse,
    RoomSendError,
    SyncResponse,
)

from bot.channels.matrix import FEEDBACK_KEY, MatrixChannel, MatrixSettings, incoming_from_text, with_command_help
from bot.core.chat_commands import CHAT_COMMANDS
from bot.core.dialogue import Dialogue, DialogueSettings
from bot.core.live import LiveKnowledge
from bot.core.models import Reply
from bot.core.ports import FeedbackLog, MemoryFeedbackLog, MemoryUnansweredLog, MemoryUserStates
from bot.core.texts import text as core_text
from bot.ops.logs import MASK, forget_secrets, redact
from tests.conftest import MONDAY_10
from tests.matrix_server import SynapseServer, run_scenario, unique

PASSWORD = "correct horse battery staple"



class Citizen:
    """A person's Matrix client: sends texts, collects the bot's notices."""

    def __init__(self, server: SynapseServer, store: Path, encryption: bool = False) -> None:
        self.server = server
        self.localpart = unique("citizen")
        server.register(self.localpart, PASSWORD)
        self.user_id = server.user_id(self.localpart)
        store.mkdir(parents=True, exist_ok=True)
        self.client = AsyncClient(server.base_url, self.user_id, store_path=str(store),
                                  config=AsyncClientConfig(encryption_enabled=encryption, store_sync_tokens=False))
        self.notices: list[tuple[str, RoomMessageNotice]] = []
        self.client.add_event_callback(self._on_notice, RoomMessageNotice)  # type: ignore[arg-type]

    async def _on_notice(self, room: Any, event: RoomMessageNotice) -> None:
        self.notices.append((room.room_id, event))

    async def login(self) -> None:
        resp = await self.client.login(PASSWORD)
        assert isinstance(resp, LoginResponse)
        await self.sync()

    async def sync(self) -> None:
        resp = await self.client.sync(timeout=0, full_state=self.client.next_batch is None)
        assert isinstance(resp, SyncResponse), resp
        if self.client.should_upload_keys:
            await self.client.keys_upload()
        if self.client.should_query_keys:
            await self.client.keys_query()
        if self.client.should_claim_keys:
            await self.client.keys_claim(self.client.get_users_for_key_claiming())

    async def room_with(self, invite: list[str], direct: bool = True, encrypted: bool = False) -> str:
        initial = [{"type": "m.room.encryption", "state_key": "", "content": {"algorithm": "m.megolm.v1.aes-sha2"}}] if encrypted else []
        resp = await self.client.room_create(invite=invite, is_direct=direct, initial_state=initial)
        assert isinstance(resp, RoomCreateResponse), resp
        return resp.room_id

    async def say(self, room_id: str, text: str, msgtype: str = "m.text") -> str:
        return await self.send(room_id, {"msgtype": msgtype, "body": text})

    async def send(self, room_id: str, content: dict[str, Any]) -> str:
        """Send an m.room.message; its event id."""
        for _ in range(20):
            await self.sync()
            resp = await self.client.room_send(room_id, "m.room.message", content, ignore_unverified_devices=True)
            if not isinstance(resp, RoomSendError):
                return str(resp.event_id)
            await asyncio.sleep((resp.retry_after_ms or 500) / 1000)
        raise AssertionError(f"could not send: {resp}")

    async def wait_notices(self, n: int, timeout: float = 30) -> list[RoomMessageNotice]:
        deadline = asyncio.get_running_loop().time() + timeout
        while len(self.notices) < n:
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"{len(self.notices)} notices, wanted {n}: {[e.body[:60] for _, e in self.notices]}")
            await self.sync()
            await asyncio.sleep(0.2)
        return [e for _, e in self.notices]


def bot_for(server: SynapseServer, kb: Path, store: Path, localpart: str, votes: FeedbackLog | None = None, **settings: Any) -> MatrixChannel:
    live = LiveKnowledge([kb])
    dialogue = Dialogue(lambda: live.snapshot, MemoryUserStates(), MemoryUnansweredLog(),
                        DialogueSettings(popular=("personalausweis", "sperrmuell")), clock=lambda: MONDAY_10, feedback=votes)
    return MatrixChannel(MatrixSettings(homeserver=server.base_url, user_id=server.user_id(localpart), store_dir=store,
                                        password=PASSWORD, sync_timeout_ms=500, **settings), dialogue.handle)


async def started(bot: MatrixChannel) -> MatrixChannel:
    await bot.start()
    await asyncio.wait_for(bot.ready.wait(), 30)
    return bot


def test_the_access_token_of_a_password_login_never_reaches_a_log_line(synapse: SynapseServer, tiny_kb: Path, tmp_path: Path) -> None:
    bot_name = unique("bot")
    synapse.register(bot_name, PASSWORD)
    forget_secrets()

    async def scenario() -> None:
        bot = await started(bot_for(synapse, tiny_kb, tmp_path / "bot", bot_name, encryption=False))
        token = bot.client.access_token
        assert token and redact(f"sync failed for {token}") == f"sync failed for {MASK}"
        await bot.stop()
        forget_secrets()
        restarted = await started(bot_for(synapse, tiny_kb, tmp_path / "bot", bot_name, encryption=False))
        assert restarted.client.access_token == token  # the stored login, learnt by the filter again
        assert token not in redact(token)
        await restarted.stop()

    run_scenario(synapse, scenario)
    forget_secrets()


def test_direct_chat_answers_with_html_notice_and_numbered_choices(synapse: SynapseServer, tiny_kb: Path, tmp_path: Path) -> None:
    bot_name = unique("bot")
    synapse.register(bot_name, PASSWORD)

    async def scenario() -> None:
        bot = await started(bot_for(synapse, tiny_kb, tmp_path / "bot", bot_name, encryption=False))
        citizen = Citizen(synapse, tmp_path / "citizen")
        await citizen.login()
        room = await citizen.room_with([bot.settings.user_id])
        await asyncio.sleep(1.5)  # the bot accepts the invite
        await citizen.say(room, "Perso beantragen")
        [answer] = await citizen.wait_notices(1)
        content = answer.source["content"]
        assert content["msgtype"] == "m.notice"
        assert "m.relates_to" not in content  # in a direct chat an answer needs no quote of the question
        assert "<b>Titel personalausweis</b>" in content["formatted_body"]
        assert '<a href="https://musterstadt.example/online/personalausweis">Termin buchen</a>' in content["formatted_body"]
        assert "Termin buchen: https://musterstadt.example/online/personalausweis" in content["body"]
        await citizen.say(room, "Guten Tag <script>alert(1)</script>")
        [_, greeting] = await citizen.wait_notices(2)
        assert "1. Titel personalausweis" in greeting.body and "<ol><li>" in greeting.source["content"]["formatted_body"]
        await citizen.say(room, "2")
        [*_, chosen] = await citizen.wait_notices(3)
        assert "Antwort zu sperrmuell." in chosen.body
        await citizen.say(room, "I am a bot notice", msgtype="m.notice")
        await asyncio.sleep(2)
        assert len(citizen.notices) == 3  # notices (other bots) are never answered
        await bot.stop()
        await citizen.client.close()

    run_scenario(synapse, scenario)


def test_group_room_only_when_addressed(synapse: SynapseServer, tiny_kb: Path, tmp_path: Path) -> None:
    bot_name = unique("bot")
    synapse.register(bot_name, PASSWORD)

    async def scenario() -> None:
        bot = await started(bot_for(synapse, tiny_kb, tmp_path / "bot", bot_name, encryption=False))
        alice = Citizen(synapse, tmp_path / "alice")
        bob = Citizen(synapse, tmp_path / "bob")
        await alice.login()
        await bob.login()
        room = await alice.room_with([bot.settings.user_id, bob.user_id], direct=False)
        await bob.client.join(room)
        await asyncio.sleep(1.5)
        await alice.say(room, "Perso beantragen")  # people talking among themselves
        questions = [await alice.say(room, "!bot Sperrmüll anmelden"), await alice.say(room, f"{bot_name}: Perso beantragen")]
        notices = await alice.wait_notices(2)
        await asyncio.sleep(1.5)
        await alice.sync()
        assert len(alice.notices) == 2
        assert "sperrmuell" in notices[0].body and "personalausweis" in notices[1].body
        # In a group each answer is marked as the reply to its question and mentions who asked.
        assert [n.source["content"]["m.relates_to"] for n in notices] == [{"m.in_reply_to": {"event_id": q}} for q in questions]
        assert all(n.source["content"]["m.mentions"] == {"user_ids": [alice.user_id]} for n in notices)
        await bot.stop()
        for c in (alice, bob):
            await c.client.close()

    run_scenario(synapse, scenario)


def test_two_member_room_that_is_not_a_direct_chat_is_a_group(synapse: SynapseServer, tiny_kb: Path, tmp_path: Path) -> None:
    bot_name = unique("bot")
    synapse.register(bot_name, PASSWORD)

    async def scenario() -> None:
        bot = await started(bot_for(synapse, tiny_kb, tmp_path / "bot", bot_name, encryption=False))
        citizen = Citizen(synapse, tmp_path / "citizen")
        await citizen.login()
        room = await citizen.room_with([bot.settings.user_id], direct=False)  # e.g. a team room, others join later
        await asyncio.sleep(1.5)
        await citizen.say(room, "Perso beantragen")
        await citizen.send(room, IMAGE)
        question = await citizen.say(room, "!bot Sperrmüll anmelden")
        [answer] = await citizen.wait_notices(1)
        await asyncio.sleep(1.5)
        await citizen.sync()
        assert len(citizen.notices) == 1
        assert "sperrmuell" in answer.body
        assert answer.source["content"]["m.relates_to"] == {"m.in_reply_to": {"event_id": question}}
        await bot.stop()
        await citizen.client.close()

    run_scenario(synapse, scenario)


IMAGE = {"msgtype": "m.image", "body": "ausweis.jpg", "url": "mxc://localhost/ausweis", "info": {"mimetype": "image/jpeg", "size": 1024}}


def test_media_in_a_direct_chat_get_the_text_only_note(synapse: SynapseServer, tiny_kb: Path, tmp_path: Path) -> None:
    bot_name = unique("bot")
    synapse.register(bot_name, PASSWORD)
    media = [IMAGE,
             {"msgtype": "m.file", "body": "antrag.pdf", "url": "mxc://localhost/antrag", "info": {"mimetype": "application/pdf"}},
             {"msgtype": "m.audio", "body": "frage.ogg", "url": "mxc://localhost/frage", "info": {"mimetype": "audio/ogg"}},
             {"msgtype": "m.video", "body": "clip.mp4", "url": "mxc://localhost/clip", "info": {"mimetype": "video/mp4"}}]

    async def scenario() -> None:
        bot = await started(bot_for(synapse, tiny_kb, tmp_path / "bot", bot_name, encryption=False))
        citizen = Citizen(synapse, tmp_path / "citizen")
        await citizen.login()
        room = await citizen.room_with([bot.settings.user_id])
        await asyncio.sleep(1.5)
        for content in media:
            await citizen.send(room, content)
        await citizen.say(room, "Perso beantragen")
        notices = await citizen.wait_notices(len(media) + 1)
        for note in notices[:-1]:
            assert note.body == f"{core_text('text_only', 'de')}\n\n{core_text('text_only', 'en')}"
            assert note.source["content"]["msgtype"] == "m.notice"
        assert "personalausweis" in notices[-1].body
        await bot.stop()
        await citizen.client.close()

    run_scenario(synapse, scenario)


def test_question_in_a_thread_is_answered_in_the_thread(synapse: SynapseServer, tiny_kb: Path, tmp_path: Path) -> None:
    bot_name = unique("bot")
    synapse.register(bot_name, PASSWORD)

    async def scenario() -> None:
        bot = await started(bot_for(synapse, tiny_kb, tmp_path / "bot", bot_name, encryption=False))
        alice = Citizen(synapse, tmp_path / "alice")
        bob = Citizen(synapse, tmp_path / "bob")
        for person in (alice, bob):
            await person.login()
        direct = await alice.room_with([bot.settings.user_id])
        group = await alice.room_with([bot.settings.user_id, bob.user_id], direct=False)
        await bob.client.join(group)
        await asyncio.sleep(1.5)
        root = await alice.say(direct, "Perso beantragen")
        await alice.wait_notices(1)
        in_thread = await alice.send(direct, {"msgtype": "m.text", "body": "Sperrmüll anmelden", "m.relates_to": {
            "rel_type": "m.thread", "event_id": root, "is_falling_back": True, "m.in_reply_to": {"event_id": root}}})
        group_root = await bob.say(group, "Wer weiß, wie man Sperrmüll anmeldet?")
        group_question = await alice.send(group, {"msgtype": "m.text", "body": "!bot Sperrmüll anmelden", "m.relates_to": {
            "rel_type": "m.thread", "event_id": group_root, "is_falling_back": True, "m.in_reply_to": {"event_id": group_root}}})
        [_, answer, group_answer] = await alice.wait_notices(3)
        assert "sperrmuell" in answer.body and "sperrmuell" in group_answer.body
        assert answer.source["content"]["m.relates_to"] == {
            "rel_type": "m.thread", "event_id": root, "is_falling_back": True, "m.in_reply_to": {"event_id": in_thread}}
        assert group_answer.source["content"]["m.relates_to"] == {
            "rel_type": "m.thread", "event_id": group_root, "is_falling_back": False, "m.in_reply_to": {"event_id": group_question}}
        await bot.stop()
        for person in (alice, bob):
            await person.client.close()

    run_scenario(synapse, scenario)


def test_rooms_from_a_state_file_without_the_flag_keep_their_kind(synapse: SynapseServer, tiny_kb: Path, tmp_path: Path) -> None:
    """Rooms joined before the invite's flag was kept: their kind comes from the bot's own join,
    and where that no longer shows the invite, from their size."""
    bot_name = unique("bot")
    synapse.register(bot_name, PASSWORD)

    async def scenario() -> None:
        citizen = Citizen(synapse, tmp_path / "citizen")
        await citizen.login()
        bot = await started(bot_for(synapse, tiny_kb, tmp_path / "bot", bot_name, encryption=False))
        bot_id = bot.settings.user_id
        direct, renamed = await citizen.room_with([bot_id]), await citizen.room_with([bot_id])
        group = await citizen.room_with([bot_id], direct=False)
        await asyncio.sleep(1.5)
        # A new display name in one room: the bot's membership event there follows its join, not the invite.
        put = await bot.client.room_put_state(renamed, "m.room.member", {"membership": "join", "displayname": "Bürgerbot"}, state_key=bot_id)
        assert isinstance(put, RoomPutStateResponse), put
        await bot.stop()
        state_file = tmp_path / "bot" / "state.json"
        state = json.loads(state_file.read_text(encoding="utf-8"))
        assert state.pop("direct") == {direct: True, renamed: True, group: False}
        state_file.write_text(json.dumps(state), encoding="utf-8")
        again = await started(bot_for(synapse, tiny_kb, tmp_path / "bot", bot_name, encryption=False))
        await citizen.say(group, "Perso beantragen")
        await citizen.say(direct, "Sperrmüll anmelden")
        await citizen.say(renamed, "Perso beantragen")
        await citizen.wait_notices(2)
        await asyncio.sleep(1.5)
        await citizen.sync()
        assert [(room, "sperrmuell" in n.body) for room, n in citizen.notices] == [(direct, True), (renamed, False)]
        await again.stop()
        assert json.loads(state_file.read_text(encoding="utf-8"))["direct"] == {direct: True, group: False}  # renamed: by size
        await citizen.client.close()

    run_scenario(synapse, scenario)


def test_restart_neither_replays_nor_loses(synapse: SynapseServer, tiny_kb: Path, tmp_path: Path) -> None:
    bot_name = unique("bot")
    synapse.register(bot_name, PASSWORD)

    async def scenario() -> None:
        citizen = Citizen(synapse, tmp_path / "citizen")
        await citizen.login()
        bot = await started(bot_for(synapse, tiny_kb, tmp_path / "bot", bot_name, encryption=False))
        room = await citizen.room_with([bot.settings.user_id])
        await asyncio.sleep(1.5)
        await citizen.say(room, "Perso beantragen")
        await citizen.wait_notices(1)
        await bot.stop()
        await citizen.say(room, "Sperrmüll anmelden")  # while the bot is down
        again = await started(bot_for(synapse, tiny_kb, tmp_path / "bot", bot_name, encryption=False))
        notices = await citizen.wait_notices(2)
        await asyncio.sleep(2)
        await citizen.sync()
        assert len(citizen.notices) == 2, [n.body[:40] for n in notices]
        assert "sperrmuell" in citizen.notices[1][1].body
        await again.stop()
        await citizen.client.close()

    run_scenario(synapse, scenario)


def test_busy_room_gap_is_filled(synapse: SynapseServer, tiny_kb: Path, tmp_path: Path) -> None:
    """More messages than one sync timeline holds: none may be skipped."""
    bot_name = unique("bot")
    synapse.register(bot_name, PASSWORD)

    async def scenario() -> None:
        citizen = Citizen(synapse, tmp_path / "citizen")
        await citizen.login()
        bot = await started(bot_for(synapse, tiny_kb, tmp_path / "bot", bot_name, encryption=False, timeline_limit=3))
        room = await citizen.room_with([bot.settings.user_id])
        await asyncio.sleep(1.5)
        await bot.stop()
        for _ in range(8):
            await citizen.say(room, "Sperrmüll anmelden")
        again = await started(bot_for(synapse, tiny_kb, tmp_path / "bot", bot_name, encryption=False, timeline_limit=3))
        await citizen.wait_notices(8, timeout=60)
        await again.stop()
        await citizen.client.close()

    run_scenario(synapse, scenario)


def test_encrypted_room(synapse: SynapseServer, tiny_kb: Path, tmp_path: Path) -> None:
    bot_name = unique("bot")
    synapse.register(bot_name, PASSWORD)

    async def scenario() -> None:
        bot = await started(bot_for(synapse, tiny_kb, tmp_path / "bot", bot_name, encryption=True))
        citizen = Citizen(synapse, tmp_path / "citizen", encryption=True)
        await citizen.login()
        room = await citizen.room_with([bot.settings.user_id], encrypted=True)
        await asyncio.sleep(2)
        await citizen.say(room, "Perso beantragen")
        [answer] = await citizen.wait_notices(1, timeout=60)
        assert "personalausweis" in answer.body
        assert answer.decrypted
        await bot.stop()
        await citizen.client.close()

    run_scenario(synapse, scenario)


async def react(client: AsyncClient, room_id: str, event_id: str, key: str) -> None:
    content = {"m.relates_to": {"rel_type": "m.annotation", "event_id": event_id, "key": key}}
    resp = await client.room_send(room_id, "m.reaction", content, ignore_unverified_devices=True)
    assert not isinstance(resp, RoomSendError), resp


def test_reactions_on_answers_are_votes(synapse: SynapseServer, tiny_kb: Path, tmp_path: Path) -> None:
    bot_name = unique("bot")
    synapse.register(bot_name, PASSWORD)
    votes = MemoryFeedbackLog()

    async def scenario() -> None:
        bot = await started(bot_for(synapse, tiny_kb, tmp_path / "bot", bot_name, votes, encryption=False))
        citizen = Citizen(synapse, tmp_path / "citizen")
        await citizen.login()
        room = await citizen.room_with([bot.settings.user_id])
        await asyncio.sleep(1.5)
        await citizen.say(room, "Perso beantragen")
        [answer] = await citizen.wait_notices(1)
        assert answer.source["content"][FEEDBACK_KEY]
        assert "👍 oder 👎" in answer.body
        await react(bot.client, room, answer.event_id, "👍")  # the bot's own reaction is no vote
        await react(citizen.client, room, answer.event_id, "🎉")  # nor is any other emoji
        await react(citizen.client, room, answer.event_id, "👎")
        [_, ask] = await citizen.wait_notices(2)
        assert "Was hat Ihnen an der Antwort gefehlt?" in ask.body
        await react(citizen.client, room, answer.event_id, "👍")  # one vote per answer
        await citizen.say(room, "Die Gebühr fehlt")
        [*_, noted] = await citizen.wait_notices(3)
        assert "Team" in noted.body
        await citizen.say(room, "Sperrmüll anmelden")
        [*_, second] = await citizen.wait_notices(4)
        await bot.stop()
        # A new process has not sent that answer: it reads the token from the answer itself.
        again = await started(bot_for(synapse, tiny_kb, tmp_path / "bot", bot_name, votes, encryption=False))
        await react(citizen.client, room, second.event_id, "👍️")
        [*_, thanks] = await citizen.wait_notices(5)
        assert thanks.body == "Danke für Ihre Rückmeldung!"
        await asyncio.sleep(1.5)
        assert len(citizen.notices) == 5
        assert [(v.entry_id, v.vote, v.channel) for v in votes.records] == [
            ("personalausweis", "down", "matrix"), ("personalausweis", "note", "matrix"), ("sperrmuell", "up", "matrix")]
        assert votes.records[1].missing == "Die Gebühr fehlt"
        await again.stop()
        await citizen.client.close()

    run_scenario(synapse, scenario)


def test_rate_limits_are_waited_out(synapse_rate_limited: SynapseServer, tiny_kb: Path, tmp_path: Path) -> None:
    server = synapse_rate_limited
    bot_name = unique("bot")
    server.register(bot_name, PASSWORD)

    async def scenario() -> None:
        bot = await started(bot_for(server, tiny_kb, tmp_path / "bot", bot_name, encryption=False))
        citizen = Citizen(server, tmp_path / "citizen")
        await citizen.login()
        room = await citizen.room_with([bot.settings.user_id])
        await asyncio.sleep(1.5)
        for _ in range(14):
            await citizen.say(room, "Sperrmüll anmelden")
        notices = await citizen.wait_notices(14, timeout=90)
        assert all("sperrmuell" in n.body for n in notices)
        await bot.stop()
        await citizen.client.close()

    run_scenario(server, scenario, timeout=150)


def test_access_token_login_history_and_invite_filter(synapse: SynapseServer, tiny_kb: Path, tmp_path: Path) -> None:
    bot_name, picky_name = unique("bot"), unique("picky")
    _, token = synapse.register(bot_name, PASSWORD)
    synapse.register(picky_name, PASSWORD)

    async def scenario() -> None:
        citizen = Citizen(synapse, tmp_path / "citizen")
        await citizen.login()
        room = await citizen.room_with([])
        await citizen.say(room, "Perso beantragen")  # before the bot is in the room
        live = LiveKnowledge([tiny_kb])
        dialogue = Dialogue(lambda: live.snapshot, MemoryUserStates(), MemoryUnansweredLog(), clock=lambda: MONDAY_10)
        bot = MatrixChannel(MatrixSettings(homeserver=synapse.base_url, user_id=synapse.user_id(bot_name), store_dir=tmp_path / "bot",
                                           access_token=token, sync_timeout_ms=500, encryption=False), dialogue.handle)
        picky = bot_for(synapse, tiny_kb, tmp_path / "picky", picky_name, encryption=False, allowed_servers=("musterstadt.example",))
        await started(bot)
        await started(picky)
        await citizen.client.room_invite(room, bot.settings.user_id)
        await citizen.client.room_invite(room, picky.settings.user_id)
        await asyncio.sleep(2)
        await citizen.sync()
        state = citizen.client.rooms[room]
        assert bot.settings.user_id in state.users and bot.settings.user_id not in state.invited_users  # joined
        assert picky.settings.user_id in state.invited_users  # invite from a server not on its list: left pending
        assert citizen.notices == []  # the message from before the bot joined stays unanswered
        await citizen.say(room, f"{bot_name}: Sperrmüll anmelden")
        [answer] = await citizen.wait_notices(1)
        assert "sperrmuell" in answer.body
        for b in (bot, picky):
            await b.stop()
        await citizen.client.close()

    run_scenario(synapse, scenario)


@pytest.mark.parametrize(
    ("text", "command", "argument"),
    [
        ("!link 1AbC_-token", "link", "1AbC_-token"),
        ("  !LINK\t1AbC  ", "link", "1AbC"),
        ("/termin 3.12. um 10:30", "termin", "3.12. um 10:30"),
        ("!erinnerungen", "erinnerungen", ""),
        ("!help", "help", ""),
        ("!link " + "x" * 100, "link", "x" * 64),
    ],
)
def test_commands_from_text(text: str, command: str, argument: str) -> None:
    incoming = incoming_from_text("!room:example", text, profile="welcome")
    assert (incoming.command, incoming.argument, incoming.text, incoming.profile) == (command, argument, "", "welcome")


@pytest.mark.parametrize(("text", "lang", "first_line"), [("!hilfe", "de", "!start – "), ("/help", "en", "!start – ")])
def test_help_lists_the_commands_matrix_has_no_menu_for(text: str, lang: str, first_line: str) -> None:
    answer = Reply("Was ich kann", language=lang)
    replies = with_command_help(incoming_from_text("!room:example", text), [answer])
    assert replies[0] is answer and replies[1].text == CHAT_COMMANDS.help_text(lang, "!")
    assert replies[1].language == lang and replies[1].text.split("\n")[1].startswith(first_line)
    assert with_command_help(incoming_from_text("!room:example", "!termin"), [answer]) == [answer]
    assert with_command_help(incoming_from_text("!room:example", "help"), [answer]) == [answer]


@pytest.mark.parametrize("text", ["link abc", "!frobnicate now", "!", "", "Wo ist mein Ausweis?"])
def test_other_messages_stay_text(text: str) -> None:
    incoming = incoming_from_text("!room:example", text)
    assert incoming.command is None and incoming.text == text


def test_the_event_id_travels_as_the_message_id() -> None:
    """A message the sync delivers again after a crash is known by it (bot.handover.desk relays it once)."""
    assert incoming_from_text("!room:example", "Wo ist mein Ausweis?", event_id="$abc").message_id == "$abc"
    assert incoming_from_text("!room:example", "!termin 3.12.", event_id="$def").message_id == "$def"
