"""The hand-over end to end on a real Synapse: a citizen in a direct chat with the Matrix bot,
two team members in a staff room (unencrypted), the staff room service between them."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from nio import RoomCreateResponse, RoomGetEventResponse, RoomMessageNotice
from prometheus_client import CollectorRegistry
from sqlalchemy import Engine, func, select

from bot.channels.matrix import MatrixChannel, MatrixSettings
from bot.channels.telegram import TelegramChannel, TelegramSettings
from bot.core.dialogue import Dialogue, DialogueSettings
from bot.core.live import LiveKnowledge
from bot.core.ports import MemoryUnansweredLog, MemoryUserStates
from bot.handover.desk import HandoverPlace, SqlHandoverDesk
from bot.handover.staff_room import HandoverMetrics, StaffRoomService, StaffRoomSettings
from bot.storage.database import make_engine, migrate
from bot.storage.tables import HandoverMessageRow, HandoverRow
from tests.channels.test_matrix import PASSWORD, Citizen
from tests.conftest import MONDAY_10
from tests.fakes.aio import eventually
from tests.fakes.telegram_api import FakeBotApi
from tests.matrix_server import SynapseServer, run_scenario, unique

TOKEN = "123456:TEST-TOKEN"
TELEGRAM_CHAT = 4242


@pytest.fixture(autouse=True)
def _timedelta_retry_after(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "true")


class Scene:
    """One bot process (the desk, the dialogue, the Matrix channel, a Telegram channel on the fake
    Bot API when given, the staff room service) beside a citizen and two team members;
    ``down()`` and ``up()`` restart the process over the same database and stores."""

    def __init__(self, server: SynapseServer, kb: Path, tmp: Path, idle: dt.timedelta = dt.timedelta(minutes=30),
                 telegram: FakeBotApi | None = None, encrypted: bool = False, timeline_limit: int = 100) -> None:
        self.server, self.kb, self.tmp, self.idle, self.telegram_api, self.encrypted = server, kb, tmp, idle, telegram, encrypted
        self.timeline_limit = timeline_limit
        self.engine: Engine = make_engine(f"sqlite:///{tmp / 'bot.db'}")
        migrate(self.engine)
        self.bot_name, self.desk_name = unique("bot"), unique("handover")
        server.register(self.bot_name, PASSWORD)
        server.register(self.desk_name, PASSWORD)
        self.bot_id = server.user_id(self.bot_name)
        self.citizen = Citizen(server, tmp / "citizen")
        self.alice = Citizen(server, tmp / "alice", encryption=encrypted)
        self.bob = Citizen(server, tmp / "bob", encryption=encrypted)
        self.room = ""
        self.running: list[Any] = []  # the process's channels and service, in start order
        self.registry = CollectorRegistry()
        self.metrics = HandoverMetrics(self.registry)  # one registry across restarts: the counts add up

    async def start(self) -> None:
        for person in (self.citizen, self.alice, self.bob):
            await person.login()
        secret = [{"type": "m.room.encryption", "state_key": "", "content": {"algorithm": "m.megolm.v1.aes-sha2"}}] if self.encrypted else []
        created = await self.alice.client.room_create(name="Serviceteam", invite=[self.bob.user_id, self.server.user_id(self.desk_name)],
                                                      initial_state=secret)
        assert isinstance(created, RoomCreateResponse), created
        self.room = created.room_id
        await self.bob.client.join(self.room)
        await self.up()

    async def up(self) -> None:
        desk = SqlHandoverDesk(self.engine, {"default": HandoverPlace(self.room, "buergertelefon")}, lambda: dt.datetime.now(dt.UTC))
        live = LiveKnowledge([self.kb])
        dialogue = Dialogue(lambda: live.snapshot, MemoryUserStates(), MemoryUnansweredLog(), DialogueSettings(popular=("personalausweis",)),
                            clock=lambda: MONDAY_10, handover=desk)
        bot = MatrixChannel(MatrixSettings(homeserver=self.server.base_url, user_id=self.bot_id, store_dir=self.tmp / "bot", password=PASSWORD,
                                           sync_timeout_ms=500, encryption=False), dialogue.handle)
        await bot.start()
        await asyncio.wait_for(bot.ready.wait(), 30)
        channels: list[Any] = [bot]
        if self.telegram_api is not None:
            telegram = TelegramChannel(TelegramSettings(token=TOKEN, base_url=self.telegram_api.base_url, poll_timeout=1), dialogue.handle)
            await telegram.start()
            channels.append(telegram)
        desk.reachable = {channel.address for channel in channels}
        service = StaffRoomService(
            StaffRoomSettings(homeserver=self.server.base_url, user_id=self.server.user_id(self.desk_name), store_dir=self.tmp / "handover",
                              staff_rooms=(self.room,), password=PASSWORD, idle=self.idle, encryption=self.encrypted, drafts_dir=self.tmp / "drafts",
                              poll_seconds=0.2, sync_timeout_ms=500, timeline_limit=self.timeline_limit),
            desk, {channel.address: channel for channel in channels}, self.metrics)
        await service.start()
        await asyncio.wait_for(service.ready.wait(), 30)
        self.running = [*channels, service]

    async def down(self) -> None:
        for part in reversed(self.running):
            await part.stop()
        self.running = []

    async def direct_chat(self, person: Citizen) -> str:
        bot = self.running[0]
        room = await person.room_with([self.bot_id])

        async def joined() -> bool:
            known = bot.client.rooms.get(room)
            return known is not None and self.bot_id in known.users

        await eventually(joined)
        return room

    async def stop(self) -> None:
        await self.down()
        for person in (self.citizen, self.alice, self.bob):
            await person.client.close()


async def notices_until(person: Citizen, room: str, wanted: Any, timeout: float = 30) -> list[RoomMessageNotice]:
    """The notices of ``room`` once ``wanted(bodies)`` holds."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        found = [event for room_id, event in person.notices if room_id == room]
        if wanted([e.body for e in found]):
            return found
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"not there in {room}: {[e.body[:80] for e in found]}")
        await person.sync()
        await asyncio.sleep(0.2)


def thread_of(notices: list[RoomMessageNotice], root: str) -> list[str]:
    return [e.body for e in notices if (e.source["content"].get("m.relates_to") or {}).get("event_id") == root]


async def in_thread(person: Citizen, room: str, root: str, body: str) -> str:
    return await person.send(room, {"msgtype": "m.text", "body": body, "m.relates_to": {"rel_type": "m.thread", "event_id": root}})


async def opened_case(scene: Scene, person: Citizen, dm: str, number: str) -> str:
    """The citizen asks for a person and agrees; the thread root's event id in the staff room."""
    await person.say(dm, "Mitarbeiter bitte")
    await notices_until(person, dm, lambda bodies: any("Chat-Kennung" in b for b in bodies))
    await person.say(dm, "ja")
    await notices_until(person, dm, lambda bodies: any(number in b for b in bodies))
    roots = await notices_until(scene.alice, scene.room, lambda bodies: any(number in b for b in bodies))
    return next(e.event_id for e in roots if number in e.body and "m.relates_to" not in e.source["content"])


@pytest.mark.parametrize("encrypted", [False, True], ids=["plain-staff-room", "encrypted-staff-room"])
def test_a_full_handover_both_ways_from_matrix_and_telegram_at_once_across_a_restart(
    synapse: SynapseServer, tiny_kb: Path, tmp_path: Path, encrypted: bool,
) -> None:
    async def scenario() -> None:
        async with FakeBotApi(TOKEN) as fake:
            scene = Scene(synapse, tiny_kb, tmp_path, telegram=fake, encrypted=encrypted)
            await scene.start()
            dm = await scene.direct_chat(scene.citizen)
            root = await opened_case(scene, scene.citizen, dm, "H-00001")
            staff_view = next(e for _, e in scene.alice.notices if e.event_id == root).body
            assert "über matrix" in staff_view and "Sprache de" in staff_view and "Profil default" in staff_view
            assert scene.citizen.user_id not in staff_view and dm not in staff_view and scene.citizen.localpart not in staff_view

            # A citizen on Telegram at the same time gets a thread of their own.
            fake.push_message(TELEGRAM_CHAT, "Mitarbeiter bitte", first_name="Erika")
            await fake.wait_for(lambda sent: "Chat-Kennung" in sent["text"], chat_id=TELEGRAM_CHAT)
            fake.push_message(TELEGRAM_CHAT, "ja")
            await fake.wait_for(lambda sent: "H-00002" in sent["text"], chat_id=TELEGRAM_CHAT)
            roots = await notices_until(scene.alice, scene.room, lambda bodies: any("H-00002" in b and "über telegram" in b for b in bodies))
            telegram_root = next(e for e in roots if "Neue Übergabe H-00002" in e.body)
            assert str(TELEGRAM_CHAT) not in telegram_root.body and "Erika" not in telegram_root.body

            await scene.citizen.say(dm, "Es geht um meinen Hund, der zugelaufen ist.")
            await notices_until(scene.alice, scene.room, lambda bodies: any("zugelaufen" in b for b in bodies))
            await in_thread(scene.alice, scene.room, root, "!claim")
            await notices_until(scene.citizen, dm, lambda bodies: any("kümmert sich" in b for b in bodies))
            staff_room = await notices_until(scene.bob, scene.room, lambda bodies: any("übernommen von" in b for b in bodies))
            assert any(scene.alice.user_id in b for b in thread_of(staff_room, root))
            await in_thread(scene.alice, scene.room, root, "Bringen Sie ihn bitte ins Tierheim.")
            await notices_until(scene.citizen, dm, lambda bodies: any("Tierheim" in b for b in bodies))
            await in_thread(scene.bob, scene.room, telegram_root.event_id, "Guten Tag, was kann ich tun?")
            await fake.wait_for(lambda sent: "was kann ich tun" in sent["text"], chat_id=TELEGRAM_CHAT)
            fake.push_message(TELEGRAM_CHAT, "Mein Ausweis ist weg.")
            await notices_until(scene.bob, scene.room, lambda bodies: any("Ausweis ist weg" in b for b in bodies))

            # The whole bot restarts; meanwhile the team answers and both citizens write.
            await scene.down()
            await in_thread(scene.alice, scene.room, root, "Die Adresse: Tierweg 1.")
            await scene.citizen.say(dm, "Danke! Hat es heute offen?")
            fake.push_message(TELEGRAM_CHAT, "Seit gestern.")
            await scene.up()
            await notices_until(scene.citizen, dm, lambda bodies: any("Tierweg" in b for b in bodies))
            await notices_until(scene.alice, scene.room, lambda bodies: any("heute offen" in b for b in bodies) and any("Seit gestern" in b for b in bodies))
            await in_thread(scene.alice, scene.room, root, "!close")
            await in_thread(scene.bob, scene.room, telegram_root.event_id, "!close")
            await notices_until(scene.citizen, dm, lambda bodies: any("beendet" in b for b in bodies))
            await fake.wait_for(lambda sent: "beendet" in sent["text"], chat_id=TELEGRAM_CHAT)
            await scene.citizen.say(dm, "Perso beantragen")  # the bot answers again
            citizen_sees = await notices_until(scene.citizen, dm, lambda bodies: any("Titel personalausweis" in b for b in bodies))
            bodies = [e.body for e in citizen_sees]
            assert sum("Tierheim" in b for b in bodies) == 1 and sum("Tierweg" in b for b in bodies) == 1
            assert sum("kümmert sich" in b for b in bodies) == 1 and sum("beendet" in b for b in bodies) == 1
            telegram_sees = [sent["text"] for sent in fake.messages_to(TELEGRAM_CHAT)]
            assert sum("was kann ich tun" in t for t in telegram_sees) == 1 and not any("Tierheim" in t for t in telegram_sees)
            await asyncio.sleep(1)
            in_room = [e for r, e in scene.alice.notices if r == scene.room]
            assert all(e.decrypted for e in in_room) == encrypted  # the team reads the bot's lines decrypted in an encrypted room
            assert [b for b in thread_of(in_room, root) if "Bürger/in" in b] == [
                "Bürger/in: Es geht um meinen Hund, der zugelaufen ist.", "Bürger/in: Danke! Hat es heute offen?"]
            assert [b for b in thread_of(in_room, telegram_root.event_id) if "Bürger/in" in b] == [
                "Bürger/in: Mein Ausweis ist weg.", "Bürger/in: Seit gestern."]
            sample = scene.registry.get_sample_value
            assert sample("buergerbot_handovers_opened_total", {"profile": "default"}) == 2
            assert sample("buergerbot_handovers_closed_total", {"profile": "default", "reason": "staff", "answered": "yes"}) == 2
            assert sample("buergerbot_handover_wait_seconds_count", {"profile": "default"}) == 2
            with scene.engine.connect() as conn:
                assert conn.execute(select(HandoverRow.state)).scalars().all() == ["closed", "closed"]
                assert conn.execute(select(func.count()).select_from(HandoverMessageRow).where(HandoverMessageRow.done.is_(False))).scalar_one() == 0
            await scene.stop()

    run_scenario(synapse, scenario, timeout=180)


def test_a_quiet_handover_times_out_politely_and_refused_consent_shares_nothing(synapse: SynapseServer, tiny_kb: Path, tmp_path: Path) -> None:
    scene = Scene(synapse, tiny_kb, tmp_path, idle=dt.timedelta(seconds=2))

    async def scenario() -> None:
        await scene.start()
        dm = await scene.direct_chat(scene.citizen)
        await scene.citizen.say(dm, "human please")
        await notices_until(scene.citizen, dm, lambda bodies: any("chat id" in b for b in bodies))
        await scene.citizen.say(dm, "nein")
        await notices_until(scene.citizen, dm, lambda bodies: any("nichts weiter" in b or "nothing is passed on" in b for b in bodies))
        with scene.engine.connect() as conn:
            assert conn.execute(select(func.count()).select_from(HandoverRow)).scalar_one() == 0
        root = await opened_case(scene, scene.citizen, dm, "H-00001")
        await scene.citizen.say(dm, "Darf ich Laub im Garten verbrennen?")
        await notices_until(scene.alice, scene.room, lambda bodies: any("Laub" in b for b in bodies))
        await in_thread(scene.alice, scene.room, root, "Hallo, ich bin da.")
        await notices_until(scene.citizen, dm, lambda bodies: any("ich bin da" in b for b in bodies))
        # Nobody writes for longer than the idle time: the citizen hears why it ended.
        await notices_until(scene.citizen, dm, lambda bodies: any("eine Weile keine Nachricht" in b for b in bodies), timeout=20)
        staff = await notices_until(scene.alice, scene.room, lambda bodies: any("keine Nachricht mehr" in b for b in bodies))
        assert any("H-00001 beendet" in b for b in thread_of(staff, root))
        # The team turns the answer into a draft knowledge entry; nothing goes live by it.
        await in_thread(scene.alice, scene.room, root, "!faq")
        await notices_until(scene.alice, scene.room, lambda bodies: any("Entwurf geschrieben" in b for b in bodies))
        draft = (tmp_path / "drafts" / "h-00001.yaml").read_text(encoding="utf-8")
        assert "Hallo, ich bin da." in draft and "Darf ich Laub im Garten verbrennen?" in draft and "id: entwurf-h-00001" in draft
        await scene.stop()

    run_scenario(synapse, scenario, timeout=120)


def test_delete_my_data_during_a_handover_redacts_the_copies_in_the_staff_room(synapse: SynapseServer, tiny_kb: Path, tmp_path: Path) -> None:
    scene = Scene(synapse, tiny_kb, tmp_path)

    async def scenario() -> None:
        await scene.start()
        dm = await scene.direct_chat(scene.citizen)
        root = await opened_case(scene, scene.citizen, dm, "H-00001")
        await scene.citizen.say(dm, "Ich heiße Erika Mustermann.")
        notices = await notices_until(scene.alice, scene.room, lambda bodies: any("Erika" in b for b in bodies))
        copy = next(e.event_id for e in notices if "Erika" in e.body)
        await scene.citizen.say(dm, "/meinedaten")
        await notices_until(scene.citizen, dm, lambda bodies: any("Erika Mustermann" in b and "H-00001" in b for b in bodies))
        await scene.citizen.say(dm, "/loeschen")
        await notices_until(scene.citizen, dm, lambda bodies: len(bodies) >= 1 and any("1." in b for b in bodies[-1:]))
        await scene.citizen.say(dm, "ja, löschen")

        async def redacted() -> bool:
            for event_id in (root, copy):
                got = await scene.alice.client.room_get_event(scene.room, event_id)
                if not isinstance(got, RoomGetEventResponse) or got.event.source.get("content"):
                    return False
            return True

        await eventually(redacted, timeout=30, every=0.3)
        with scene.engine.connect() as conn:
            assert conn.execute(select(func.count()).select_from(HandoverRow)).scalar_one() == 0
        # The chat is the bot's again.
        await scene.citizen.say(dm, "Perso beantragen")
        await notices_until(scene.citizen, dm, lambda bodies: any("Titel personalausweis" in b for b in bodies))
        await scene.stop()

    run_scenario(synapse, scenario, timeout=120)


def test_a_citizens_message_replayed_after_a_crash_reaches_the_staff_room_once(synapse: SynapseServer, tiny_kb: Path, tmp_path: Path) -> None:
    scene = Scene(synapse, tiny_kb, tmp_path)
    bot_state = tmp_path / "bot" / "state.json"

    async def scenario() -> None:
        await scene.start()
        dm = await scene.direct_chat(scene.citizen)
        root = await opened_case(scene, scene.citizen, dm, "H-00001")
        await asyncio.sleep(1.5)  # a few empty syncs: the stored token is past the citizen's "ja"
        before = json.loads(bot_state.read_text(encoding="utf-8"))["next_batch"]
        await scene.citizen.say(dm, "Es geht um einen Baum an der Straße.")
        await notices_until(scene.alice, scene.room, lambda bodies: any("Baum an der Straße" in b for b in bodies))
        await scene.down()
        # As after a SIGKILL before the sync token was stored: the channel reads the message again.
        state = json.loads(bot_state.read_text(encoding="utf-8"))
        assert state["next_batch"] != before
        bot_state.write_text(json.dumps({**state, "next_batch": before}), encoding="utf-8")
        await scene.up()
        await scene.citizen.say(dm, "Er ist umgestürzt.")
        notices = await notices_until(scene.alice, scene.room, lambda bodies: any("umgestürzt" in b for b in bodies))
        assert [b for b in thread_of(notices, root) if "Bürger/in" in b] == [
            "Bürger/in: Es geht um einen Baum an der Straße.", "Bürger/in: Er ist umgestürzt."]
        with scene.engine.connect() as conn:
            relayed = conn.execute(select(HandoverMessageRow.chat_message_id).where(HandoverMessageRow.direction == "citizen")).scalars().all()
        assert len(relayed) == 2 and all(event_id and event_id.startswith("$") for event_id in relayed)
        await scene.stop()

    run_scenario(synapse, scenario, timeout=120)


def test_answers_beyond_one_sync_timeline_are_fetched_while_the_bot_was_away(synapse: SynapseServer, tiny_kb: Path, tmp_path: Path) -> None:
    scene = Scene(synapse, tiny_kb, tmp_path, timeline_limit=2)

    async def scenario() -> None:
        await scene.start()
        dm = await scene.direct_chat(scene.citizen)
        root = await opened_case(scene, scene.citizen, dm, "H-00001")
        await scene.down()
        answers = [f"Antwort {n} des Teams." for n in range(1, 8)]  # more than the sync's timeline holds
        for answer in answers:
            await in_thread(scene.alice if answers.index(answer) % 2 else scene.bob, scene.room, root, answer)
        await scene.up()
        await notices_until(scene.citizen, dm, lambda bodies: any("Antwort 7" in b for b in bodies))
        await asyncio.sleep(1)
        seen = [e for r, e in scene.citizen.notices if r == dm]
        relayed = [b for b in (e.body for e in seen) if "des Teams" in b]
        assert relayed == [f"Serviceteam: {answer}" for answer in answers]
        await scene.stop()

    run_scenario(synapse, scenario, timeout=120)
