"""What the browser tests run: the web channel and a city page on another origin, in a thread with
its own event loop, behind a TCP proxy that can cut connections or refuse WebSockets, and Debian's
Chromium driven by Playwright (never a downloaded browser)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

from aiohttp import web

from bot.channels.web import WebChannel

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
T = TypeVar("T")


class Proxy:
    """Forwards TCP connections to ``target_port``; :meth:`cut` drops all open ones at once, and with
    ``refuse_websockets`` a WebSocket handshake gets 403 (as from a proxy that does not allow them)."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.refuse_websockets = False
        self.websockets_opened = 0
        self._open: set[asyncio.StreamWriter] = set()
        self._server: asyncio.Server | None = None

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return int(self._server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        self.cut()
        if self._server is not None:
            self._server.close()

    def cut(self) -> None:
        for writer in list(self._open):
            writer.transport.abort()
        self._open.clear()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.read(65536)
        if b"upgrade: websocket" in head.lower():
            if self.refuse_websockets:
                writer.write(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                await writer.drain()
                writer.close()
                return
            self.websockets_opened += 1
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        self._open.update((writer, up_writer))
        up_writer.write(head)
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer), return_exceptions=True)
        self._open.difference_update((writer, up_writer))

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        finally:
            writer.transport.abort()


def city_page(widget_origin: str, lang: str = "de", extra: str = "") -> web.Application:
    """A city's page with a strict policy of its own that embeds the widget with one tag."""
    ws_origin = widget_origin.replace("http", "ws", 1)
    policy = (f"default-src 'none'; script-src {widget_origin}; style-src {widget_origin}; connect-src {widget_origin} {ws_origin}; "
              "base-uri 'none'; form-action 'none'")
    html = (f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8"><title>Musterstadt</title></head><body>'
            f"<header><p>Musterstadt</p></header><main><h1>Stadt Musterstadt</h1><p>Willkommen.</p></main>"
            f'<script src="{widget_origin}/widget.js" data-profile="buerger" {extra}></script></body></html>')

    async def page(request: web.Request) -> web.Response:
        return web.Response(text=html, content_type="text/html", headers={"Content-Security-Policy": policy})

    app = web.Application()
    app.router.add_get("/", page)
    return app


class Served:
    """The channel, a proxy in front of it and a city page, served from a thread with its own loop."""

    def __init__(self, channel: WebChannel, page_lang: str = "de", page_extra: str = "") -> None:
        self.channel = channel
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()
        self.proxy: Proxy
        self._runner: web.AppRunner
        self.widget_origin, self.page_url = self.run(self._start(page_lang, page_extra))

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=30)

    def call(self, fn: Callable[[], T]) -> T:
        async def inside() -> T:
            return fn()

        return self.run(inside())

    async def _start(self, page_lang: str, page_extra: str) -> tuple[str, str]:
        await self.channel.start()
        self.proxy = Proxy(self.channel.server.port)
        origin = f"http://127.0.0.1:{await self.proxy.start()}"
        self._runner = web.AppRunner(city_page(origin, page_lang, page_extra))
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        return origin, f"http://127.0.0.1:{self._runner.addresses[0][1]}/"

    def close(self) -> None:
        async def stop() -> None:
            await self.proxy.stop()
            await self._runner.cleanup()
            await self.channel.stop()

        self.run(stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=10)

