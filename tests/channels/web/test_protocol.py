"""The web chat's protocol against a real server and dialogue: resume, fallback, limits, escaping."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp

from bot.channels.web import WebChannel
from bot.core.models import Button, Incoming, Reply
from bot.core.ports import MemoryFeedbackLog
from bot.core.texts import text
from tests.channels.web.conftest import TABLE_ANSWER, tiny_dialogue

SESSION = "s" * 24
Client = Callable[[aiohttp.ClientSession, str], Awaitable[None]]


def serve(channel: WebChannel, test: Callable[[aiohttp.ClientSession, str], Awaitable[Any]]) -> Any:
    async def main() -> Any:
        await channel.start()
        try:
            async with aiohttp.ClientSession() as http:
                return await test(http, f"http://127.0.0.1:{channel.server.port}")
        finally:
            await channel.stop()

    return asyncio.run(main())


async def hello(http: aiohttp.ClientSession, base: str, last_seq: int = 0, session: str = SESSION) -> tuple[aiohttp.ClientWebSocketResponse, list[dict[str, Any]]]:
    """A connected socket, and what the server sent before any message: the welcome and the resent answers."""
    ws = await http.ws_connect(base + "/ws")
    await ws.send_json({"type": "hello", "session": session, "profile": "buerger", "last_seq": last_seq, "lang": "de"})
    first = await ws.receive_json(timeout=5)
    assert first["type"] == "welcome"
    resent = []
    for _ in range(first["next_seq"] - 1 - last_seq):
        resent.append(await ws.receive_json(timeout=5))
    return ws, resent


def text_of(item: dict[str, Any]) -> str:
    """All text of an answer item's replies, spans joined."""
    out = []
    for reply in item["replies"]:
        for block in reply["blocks"]:
            lines = block.get("lines") or block.get("items") or []
            out.extend("".join(span["text"] for span in line) for line in lines)
    return "\n".join(out)


def test_start_gives_the_greeting_and_menu_as_choices(make_channel: Callable[..., WebChannel]) -> None:
    async def test(http: aiohttp.ClientSession, base: str) -> None:
        ws, _ = await hello(http, base)
        await ws.send_json({"type": "message", "cid": "start", "command": "start"})
        item = await ws.receive_json(timeout=5)
        assert item["seq"] == 1 and item["cid"] == "start"
        choices = item["replies"][0]["choices"]
        assert [c["payload"] for c in choices] == ["entry:personalausweis", "entry:sperrmuell"]
        await ws.send_json({"type": "message", "cid": "c2", "choice": choices[0]["payload"], "label": choices[0]["label"]})
        answer = await ws.receive_json(timeout=5)
        assert answer["said"] == choices[0]["label"]
        assert answer["replies"][0]["buttons"] == [{"label": "Termin buchen", "url": "https://musterstadt.example/online/personalausweis"}]
        await ws.close()

    serve(make_channel(), test)


def test_an_answer_made_while_the_page_was_away_comes_once_on_resume(make_channel: Callable[..., WebChannel]) -> None:
    async def test(http: aiohttp.ClientSession, base: str) -> None:
        ws, _ = await hello(http, base)
        await ws.send_json({"type": "message", "cid": "q1", "text": "Personalausweis beantragen"})
        first = await ws.receive_json(timeout=5)
        # The second question leaves, the connection drops before its answer is read.
        await ws.send_json({"type": "message", "cid": "q2", "text": "Sperrmüll anmelden"})
        await ws.close()
        ws, resent = await hello(http, base, last_seq=first["seq"])
        assert [(i["seq"], i["cid"]) for i in resent] == [(2, "q2")]
        assert "sperrmuell" in text_of(resent[0]).lower() or "Sperr" in text_of(resent[0])
        # The page resends q2 (it had no answer when the connection dropped): not answered twice.
        await ws.send_json({"type": "message", "cid": "q2", "text": "Sperrmüll anmelden"})
        await ws.send_json({"type": "message", "cid": "q3", "text": "Wohnsitz anmelden"})
        nxt = await ws.receive_json(timeout=5)
        assert (nxt["seq"], nxt["cid"]) == (3, "q3")
        await ws.close()

    serve(make_channel(), test)


def test_a_second_connection_of_the_tab_replaces_the_first(make_channel: Callable[..., WebChannel]) -> None:
    async def test(http: aiohttp.ClientSession, base: str) -> None:
        old, _ = await hello(http, base)
        new, _ = await hello(http, base)
        closing = await old.receive(timeout=5)
        assert closing.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING)
        await new.send_json({"type": "message", "cid": "q1", "text": "Sperrmüll anmelden"})
        assert (await new.receive_json(timeout=5))["seq"] == 1
        await new.close()

    serve(make_channel(), test)


def test_http_fallback_answers_in_the_response_and_poll_resumes(make_channel: Callable[..., WebChannel]) -> None:
    async def test(http: aiohttp.ClientSession, base: str) -> None:
        body = {"session": SESSION, "profile": "buerger", "lang": "en", "after": 0}
        async with http.post(base + "/api/message", json={**body, "cid": "q1", "text": "apply for an identity card"}) as response:
            items = (await response.json())["items"]
        assert [i["seq"] for i in items] == [1]
        assert items[0]["replies"][0]["language"] == "en"
        # The same message again (its response was lost): the same answer, not a second one.
        async with http.post(base + "/api/message", json={**body, "cid": "q1", "text": "apply for an identity card"}) as response:
            assert [i["seq"] for i in (await response.json())["items"]] == [1]
        async with http.get(base + "/api/poll", params={"session": SESSION, "profile": "buerger", "after": "0"}) as response:
            polled = await response.json()
        assert [i["cid"] for i in polled["items"]] == ["q1"] and polled["next_seq"] == 2

        # A waiting poll is woken by an answer that arrives over the other transport.
        async def later() -> None:
            await asyncio.sleep(0.2)
            ws, _ = await hello(http, base, last_seq=1)
            await ws.send_json({"type": "message", "cid": "q2", "text": "bulky waste collection"})
            await ws.receive_json(timeout=5)
            await ws.close()

        task = asyncio.create_task(later())
        async with http.get(base + "/api/poll", params={"session": SESSION, "profile": "buerger", "after": "1", "wait": "1"}) as response:
            woken = await response.json()
        await task
        assert [i["cid"] for i in woken["items"]] == ["q2"]

    serve(make_channel(), test)


def test_limits_per_session_and_size_get_a_polite_reply(make_channel: Callable[..., WebChannel]) -> None:
    handled: list[Incoming] = []
    channel = make_channel(messages_per_minute=3, max_message_chars=50)
    dialogue_handle = channel.handles["buerger"]

    def counting(msg: Incoming) -> list[Reply]:
        handled.append(msg)
        return list(dialogue_handle(msg))

    channel.handles["buerger"] = counting

    async def test(http: aiohttp.ClientSession, base: str) -> None:
        ws, _ = await hello(http, base)
        await ws.send_json({"type": "message", "cid": "long", "text": "Sperrmüll " * 20})
        long = await ws.receive_json(timeout=5)
        assert "zu lang" in text_of(long) and "50" in text_of(long)
        for i in range(4):
            await ws.send_json({"type": "message", "cid": f"q{i}", "text": "Sperrmüll anmelden"})
        answers = [await ws.receive_json(timeout=5) for _ in range(4)]
        assert "sehr schnell" not in text_of(answers[2]) and "sehr schnell" in text_of(answers[3])
        await ws.close()

    serve(channel, test)
    assert len(handled) == 3  # neither the long message nor the one over the limit reached the dialogue
    assert [msg.message_id for msg in handled] == ["q0", "q1", "q2"]  # the page's client id names each message


def test_limit_per_address_covers_all_sessions_from_it(make_channel: Callable[..., WebChannel]) -> None:
    async def test(http: aiohttp.ClientSession, base: str) -> list[str]:
        texts = []
        for n in range(3):
            body = {"session": f"{n}" * 20, "profile": "buerger", "lang": "en", "cid": "q", "text": "bulky waste collection"}
            async with http.post(base + "/api/message", json=body) as response:
                texts.append(text_of((await response.json())["items"][0]))
        return texts

    texts = serve(make_channel(ip_messages_per_minute=2), test)
    assert "very fast" not in texts[1] and "very fast" in texts[2]


def test_markup_arrives_as_data_never_as_html(make_channel: Callable[..., WebChannel]) -> None:
    def handle(msg: Incoming) -> list[Reply]:
        return [Reply("**<script>x</script>** [evil](javascript:alert(1)) [ok](https://a.example/?a=1&b=2)\n\n" + TABLE_ANSWER,
                      buttons=(Button("Form", url="https://a.example/form"),), choices=(Button("<i>one</i>", payload="entry:one"),))]

    async def test(http: aiohttp.ClientSession, base: str) -> dict[str, Any]:
        ws, _ = await hello(http, base)
        await ws.send_json({"type": "message", "cid": "q", "text": "x"})
        item: dict[str, Any] = await ws.receive_json(timeout=5)
        await ws.close()
        return item

    reply = serve(make_channel(handle), test)["replies"][0]
    first = reply["blocks"][0]["lines"][0]
    assert first[0] == {"t": "b", "text": "<script>x</script>"}
    assert {"t": "a", "text": "ok", "href": "https://a.example/?a=1&b=2"} in first
    assert not any(span.get("href", "").startswith("javascript") for span in first)
    table = reply["blocks"][-1]
    assert table["type"] == "table"
    assert [cell[0]["text"] for cell in table["head"]] == ["Tag", "Zeit"]
    assert table["rows"][1][1] == [{"t": "text", "text": "<b>08:00</b>–12:00"}]
    assert reply["choices"] == [{"label": "<i>one</i>", "payload": "entry:one"}]


def test_pages_carry_a_strict_policy_and_foreign_origins_are_refused(make_channel: Callable[..., WebChannel]) -> None:
    async def test(http: aiohttp.ClientSession, base: str) -> None:
        async with http.get(base + "/chat") as page:
            policy = page.headers["Content-Security-Policy"]
            html = await page.text()
        assert "script-src 'self'" in policy and "unsafe-inline" not in policy and "default-src 'none'" in policy
        assert "<script src=\"widget.js\"" in html and "style=" not in html
        async with http.get(base + "/widget.js", headers={"Accept-Encoding": "gzip"}) as js:
            assert js.headers["Content-Type"].startswith("text/javascript") and js.headers["Content-Encoding"] == "gzip"
            assert "innerHTML" not in await js.text()
        async with http.get(base + "/ui.json", params={"lang": "en"}) as ui:
            assert (await ui.json())["texts"]["send"] == "Send"
        async with http.get(base + "/ui.json", params={"lang": "ar"}) as ui:
            labels = await ui.json()
            assert labels["lang"] == "en" and labels["texts"]["send"] == "Send"  # no Arabic labels: English, marked as such
        refused = await http.post(base + "/api/message", json={}, headers={"Origin": "https://evil.example"})
        assert refused.status == 403
        allowed = await http.post(base + "/api/message", json={"session": SESSION, "profile": "buerger", "cid": "q", "text": "Hallo"},
                                  headers={"Origin": "https://www.musterstadt.example"})
        assert allowed.status == 200 and allowed.headers["Access-Control-Allow-Origin"] == "https://www.musterstadt.example"
        try:
            await http.ws_connect(base + "/ws", origin="https://evil.example")
            raise AssertionError("a foreign page opened a socket")
        except aiohttp.WSServerHandshakeError as exc:
            assert exc.status == 403

    serve(make_channel(allowed_origins=("https://www.musterstadt.example",)), test)


def test_malformed_messages_are_not_answered(make_channel: Callable[..., WebChannel]) -> None:
    async def test(http: aiohttp.ClientSession, base: str) -> None:
        bad = await http.post(base + "/api/message", json={"session": "short", "profile": "buerger", "cid": "q", "text": "x"})
        assert bad.status == 400
        unknown = await http.post(base + "/api/message", json={"session": SESSION, "profile": "nobody", "cid": "q", "text": "x"})
        assert unknown.status == 400
        async with http.post(base + "/api/message", json={"session": SESSION, "profile": "buerger", "cid": "no spaces!", "text": "x"}) as r:
            assert (await r.json())["items"] == []
        ws = await http.ws_connect(base + "/ws")
        await ws.send_str(json.dumps([1, 2]))
        assert (await ws.receive(timeout=5)).type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)

    serve(make_channel(), test)


def test_one_address_cannot_open_sessions_without_end(make_channel: Callable[..., WebChannel]) -> None:
    async def test(http: aiohttp.ClientSession, base: str) -> list[int]:
        statuses = []
        for n in range(4):
            async with http.get(base + "/api/poll", params={"session": f"{n}" * 20, "profile": "buerger"}) as response:
                statuses.append(response.status)
        # A session already open goes on working.
        async with http.get(base + "/api/poll", params={"session": "0" * 20, "profile": "buerger"}) as response:
            statuses.append(response.status)
        return statuses

    assert serve(make_channel(new_sessions_per_minute=3), test) == [200, 200, 200, 429, 200]


def test_a_failing_handler_still_answers_the_message(make_channel: Callable[..., WebChannel]) -> None:
    def failing(msg: Incoming) -> list[Reply]:
        raise RuntimeError("the dialogue broke")

    async def test(http: aiohttp.ClientSession, base: str) -> str:
        ws, _ = await hello(http, base)
        await ws.send_json({"type": "message", "cid": "q", "text": "Hallo"})
        item = await ws.receive_json(timeout=5)
        await ws.close()
        return text_of(item)

    assert serve(make_channel(failing), test) == text("technical_problem", "de")


def test_a_page_without_a_profile_talks_to_the_first_one(make_channel: Callable[..., WebChannel]) -> None:
    async def test(http: aiohttp.ClientSession, base: str) -> int:
        async with http.post(base + "/api/message", json={"session": SESSION, "cid": "q", "text": "Sperrmüll anmelden"}) as response:
            return len((await response.json())["items"])

    assert serve(make_channel(), test) == 1


def test_answers_offer_feedback_and_a_vote_is_taken_once_without_being_shown_as_said(tiny_kb: Path,
                                                                                  make_channel: Callable[..., WebChannel]) -> None:
    votes = MemoryFeedbackLog()
    channel = make_channel(tiny_dialogue(tiny_kb, votes).handle)

    async def test(http: aiohttp.ClientSession, base: str) -> None:
        ws, _ = await hello(http, base)
        await ws.send_json({"type": "message", "cid": "q1", "text": "Sperrmüll anmelden"})
        answer = await ws.receive_json(timeout=5)
        token = answer["replies"][0]["feedback"]
        await ws.send_json({"type": "message", "cid": "v1", "vote": "down", "answer": token})
        asked = await ws.receive_json(timeout=5)
        assert asked["said"] == ""
        assert "Was hat Ihnen an der Antwort gefehlt?" in text_of(asked)
        assert "feedback" not in asked["replies"][0]
        await ws.send_json({"type": "message", "cid": "v1", "vote": "up", "answer": token})  # a resend: not taken again
        await ws.send_json({"type": "message", "cid": "v2", "vote": "sideways", "answer": token})  # malformed: ignored
        await ws.send_json({"type": "message", "cid": "n1", "text": "Wann kommt die Abholung?"})
        noted = await ws.receive_json(timeout=5)
        assert noted["cid"] == "n1" and "ohne Bezug zu diesem Chat" in text_of(noted)
        await ws.close()
        async with http.get(base + "/ui.json", params={"lang": "de"}) as ui:
            texts = (await ui.json())["texts"]
        assert (texts["feedback_helpful"], texts["feedback_not_helpful"]) == ("Hilfreich", "Nicht hilfreich")

    serve(channel, test)
    assert [(v.entry_id, v.vote, v.channel, v.profile) for v in votes.records] == [
        ("sperrmuell", "down", "web", "buerger"), ("sperrmuell", "note", "web", "buerger")]
    assert votes.records[1].missing == "Wann kommt die Abholung?"


def test_equal_replies_are_rendered_once_and_a_changed_text_anew() -> None:
    from bot.channels.web.channel import reply_json

    answer = Reply("**Mitbringen:**\n- Ausweis", buttons=(Button("Formular", url="https://a.example/form"),), entry_id="perso", feedback="de.perso")
    first = reply_json(answer)
    assert reply_json(Reply(answer.text, answer.buttons, entry_id="perso", feedback="de.perso")) is first  # an equal reply: the same rendering
    edited = reply_json(Reply("**Mitbringen:**\n- Reisepass", answer.buttons, entry_id="perso", feedback="de.perso"))
    assert edited is not first
    assert edited["blocks"][1]["items"] == [[{"t": "text", "text": "Reisepass"}]]
    assert first["blocks"][1]["items"] == [[{"t": "text", "text": "Ausweis"}]]
    assert reply_json(Reply(answer.text, answer.buttons, entry_id="perso", feedback="en.perso"))["feedback"] == "en.perso"
