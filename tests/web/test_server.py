"""The operations endpoints over real HTTP, and a route table added by an extension."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import aiohttp
from aiohttp import web

from bot.ops.logs import JsonFormatter, configure_logging, scrub_every_handler
from bot.ops.metrics import Metrics
from bot.web.server import METRICS, Check, Extension, HttpServer, create_app


async def ok() -> str | None:
    return None


async def get(server: HttpServer, path: str, headers: Mapping[str, str] | None = None) -> tuple[int, str, Any]:
    async with aiohttp.ClientSession() as session, session.get(f"http://127.0.0.1:{server.port}{path}", headers=headers) as resp:
        body = await resp.text()
        return resp.status, resp.headers["Content-Type"], body


def serve(checks: Mapping[str, Check], test: Callable[[HttpServer, Metrics], Awaitable[None]], extensions: list[Extension] | None = None,
          check_timeout: float = 5.0) -> None:
    async def main() -> None:
        metrics = Metrics()
        server = HttpServer(create_app(metrics, checks, extensions or [], check_timeout=check_timeout), "127.0.0.1", 0)
        await server.start()
        try:
            await test(server, metrics)
        finally:
            await server.stop()

    asyncio.run(main())


def test_healthz_and_ready() -> None:
    async def test(server: HttpServer, metrics: Metrics) -> None:
        assert (await get(server, "/healthz"))[0] == 200
        status, content_type, body = await get(server, "/readyz")
        assert status == 200 and content_type.startswith("application/json")
        assert '"ready": true' in body and '"knowledge": "ok"' in body

    serve({"knowledge": ok, "database": ok}, test)


def test_not_ready_names_what_is_missing() -> None:
    async def starting() -> str | None:
        return "starting"

    async def broken() -> str | None:
        raise ConnectionRefusedError

    async def hanging() -> str | None:
        await asyncio.Event().wait()
        return None

    async def test(server: HttpServer, metrics: Metrics) -> None:
        async with aiohttp.ClientSession() as session, session.get(f"http://127.0.0.1:{server.port}/readyz") as resp:
            assert resp.status == 503
            body = await resp.json()
        assert body["ready"] is False
        assert body["not_ready"] == ["channels", "database", "cache"]
        assert body["checks"] == {"knowledge": "ok", "channels": "starting", "database": "failed: ConnectionRefusedError", "cache": "no answer within 0.2 s"}
        assert (await get(server, "/healthz"))[0] == 200  # alive all the same

    serve({"knowledge": ok, "channels": starting, "database": broken, "cache": hanging}, test, check_timeout=0.2)


def test_metrics_are_served_in_the_asked_format() -> None:
    async def test(server: HttpServer, metrics: Metrics) -> None:
        metrics.reminders_sent.labels(channel="telegram").inc(2)
        status, content_type, body = await get(server, "/metrics")
        assert status == 200 and content_type.startswith("text/plain")
        assert 'buergerbot_reminders_sent_total{channel="telegram"} 2.0' in body
        _, content_type, body = await get(server, "/metrics", {"Accept": "application/openmetrics-text; version=1.0.0"})
        assert content_type.startswith("application/openmetrics-text") and body.endswith("# EOF\n")

    serve({}, test)


def test_extensions_add_routes_and_see_the_metrics() -> None:
    routes = web.RouteTableDef()

    @routes.get("/api/v1/ping")
    async def ping(request: web.Request) -> web.Response:
        request.app[METRICS].reminders_due.labels(channel="api").inc()
        return web.json_response({"pong": True})

    async def hello(request: web.Request) -> web.Response:
        return web.Response(text="hello from a sub-app")

    sub = web.Application()
    sub.router.add_get("/hello", hello)

    def install(app: web.Application) -> None:
        app.add_routes(routes)
        app.add_subapp("/staff/", sub)

    async def test(server: HttpServer, metrics: Metrics) -> None:
        assert (await get(server, "/api/v1/ping"))[2] == '{"pong": true}'
        assert (await get(server, "/staff/hello"))[2] == "hello from a sub-app"
        assert (await get(server, "/nothing-here"))[0] == 404
        assert metrics.registry.get_sample_value("buergerbot_reminders_due_total", {"channel": "api"}) == 1

    serve({}, test, [install])


def test_two_servers_side_by_side_keep_their_own_counters() -> None:
    async def main() -> None:
        a, b = Metrics(), Metrics()
        servers = [HttpServer(create_app(m, {}), "127.0.0.1", 0) for m in (a, b)]
        for s in servers:
            await s.start()
        try:
            a.knowledge_reloads.inc()
            body_a, body_b = [await get(s, "/metrics") for s in servers]
        finally:
            for s in servers:
                await s.stop()
        assert "buergerbot_knowledge_reloads_total 1.0" in body_a[2]
        assert "buergerbot_knowledge_reloads_total 0.0" in body_b[2]

    asyncio.run(main())


async def raw_request(port: int, head: bytes) -> bytes:
    """What the server sends back for ``head``, written as is: no client library fixes a bad request up."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(head)
        await writer.drain()
        return await reader.read()
    finally:
        writer.close()


def test_an_oversized_authorization_header_is_refused_without_quoting_it() -> None:
    token = "oversized-bearer-token-" + "x" * 9000  # aiohttp's parser takes header lines up to 8,190 bytes
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    text, lines = io.StringIO(), io.StringIO()
    configure_logging("text", logging.INFO, stream=text)
    json_handler = logging.StreamHandler(lines)
    json_handler.setFormatter(JsonFormatter())
    root.addHandler(json_handler)
    scrub_every_handler()

    async def test(server: HttpServer, metrics: Metrics) -> None:
        answer = await raw_request(server.port, f"GET /healthz HTTP/1.1\r\nHost: bot\r\nAuthorization: Bearer {token}\r\n\r\n".encode())
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.0 400 ") and body == b"Bad Request"
        # A request the parser takes is served as before.
        assert b'"alive"' in await raw_request(server.port, b"GET /healthz HTTP/1.1\r\nHost: bot\r\nConnection: close\r\n\r\n")

    try:
        serve({}, test)
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
    written = text.getvalue() + lines.getvalue()
    assert "ERROR aiohttp.server: Error handling request" in text.getvalue()  # the refusal is still logged …
    assert "oversized-bearer-token" not in written and "xxxxxxxx" not in written  # … without the token
    assert json.loads(lines.getvalue().splitlines()[-1])["logger"] == "aiohttp.server"
