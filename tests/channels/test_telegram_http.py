"""The aiohttp HTTP layer under python-telegram-bot: the Bot API answers, timeouts, refused connections."""

from __future__ import annotations

import asyncio
import socket

import pytest
from aiohttp import web
from telegram import Bot
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, HTTPXRequest

from bot.channels.telegram import _may_have_left
from bot.channels.telegram_http import AiohttpRequest, json_request
from tests.fakes.telegram_api import FakeBotApi

TOKEN = "123:http"


def test_sends_through_the_fake_bot_api_form_encoded() -> None:
    async def scenario() -> None:
        async with FakeBotApi(TOKEN) as fake:
            async with Bot(TOKEN, base_url=fake.base_url, request=AiohttpRequest()) as bot:
                message = await bot.send_message(42, "<b>Hallo</b> &amp; willkommen", parse_mode="HTML")
            assert message.text == "Hallo & willkommen"
            assert fake.messages_to(42)[0]["parse_mode"] == "HTML"

    asyncio.run(scenario())


@pytest.mark.parametrize("layer", [AiohttpRequest, HTTPXRequest])
def test_plain_json_values_post_through_either_request_layer(layer: type[BaseRequest]) -> None:
    # json_request skips the library's parameter conversion; the library's own httpx layer must
    # read it as well as ours, with a keyboard as nested JSON and unset values left out.
    async def scenario() -> None:
        async with FakeBotApi(TOKEN) as fake:
            request = layer()
            await request.initialize()
            try:
                markup = {"inline_keyboard": [[{"text": "Ja", "callback_data": "yes"}]]}
                params = {"chat_id": 42, "text": "Grüße", "reply_markup": markup, "reply_to_message_id": None}
                await request.post(f"{fake.base_url}{TOKEN}/sendMessage", json_request(params))
            finally:
                await request.shutdown()
            [sent] = fake.messages_to(42)
            assert (sent["text"], sent["reply_markup"]) == ("Grüße", markup) and "reply_to_message_id" not in sent

    asyncio.run(scenario())


def test_a_slow_server_is_a_timeout_and_may_have_received_the_message() -> None:
    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(2)
        return web.json_response({"ok": True, "result": True})

    async def scenario() -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", slow)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        request = AiohttpRequest(read_timeout=0.2)
        await request.initialize()
        try:
            with pytest.raises(TimedOut) as caught:
                await request.post(f"http://127.0.0.1:{port}/bot{TOKEN}/sendMessage")
            assert _may_have_left(caught.value)
        finally:
            await request.shutdown()
            await runner.cleanup()

    asyncio.run(scenario())


def test_a_refused_connection_is_a_network_error_that_sent_nothing() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nobody listens there

    async def scenario() -> None:
        request = AiohttpRequest()
        await request.initialize()
        try:
            with pytest.raises(NetworkError) as caught:
                await request.post(f"http://127.0.0.1:{port}/bot{TOKEN}/sendMessage")
            assert not isinstance(caught.value, TimedOut)
            assert not _may_have_left(caught.value)
        finally:
            await request.shutdown()

    asyncio.run(scenario())
