"""The link check against a local server on 127.0.0.1 (no internet): status, HEAD refused, slow, DNS."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Sequence
from typing import Any

from aiohttp import web
from aiohttp.abc import AbstractResolver

from bot.reports.links import LinkCheck, check_links


class NoDns(AbstractResolver):
    """Every host name fails to resolve, as an unknown domain does (IP addresses need no lookup)."""

    async def resolve(self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET) -> Any:
        raise socket.gaierror(socket.EAI_NONAME, f"Name or service not known: {host}")

    async def close(self) -> None:
        pass


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def check_against_local_server(paths: Sequence[str], others: Sequence[str]) -> tuple[dict[str, LinkCheck], list[str], str]:
    """Runs a small site on 127.0.0.1; returns the results, the methods /ok saw, and the base URL."""
    release = asyncio.Event()
    methods_on_ok: list[str] = []

    async def ok(request: web.Request) -> web.Response:
        methods_on_ok.append(request.method)
        return web.Response(text="ok")

    async def status(request: web.Request) -> web.Response:
        return web.Response(status=int(request.match_info["code"]))

    async def slow(request: web.Request) -> web.Response:
        await release.wait()
        return web.Response(text="late")

    async def refuse_head(request: web.Request) -> web.Response:
        return web.Response(status=405)

    async def page(request: web.Request) -> web.Response:
        return web.Response(text="page")

    async def moved(request: web.Request) -> web.Response:
        raise web.HTTPFound(request.query["to"])

    app = web.Application()
    app.router.add_get("/ok", ok)
    app.router.add_get("/status/{code}", status)
    app.router.add_route("HEAD", "/no-head", refuse_head)
    app.router.add_get("/no-head", page, allow_head=False)
    app.router.add_get("/slow", slow)
    app.router.add_get("/moved", moved)
    runner = web.AppRunner(app, shutdown_timeout=1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    base = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"  # type: ignore[union-attr]
    try:
        results = await check_links([base + p for p in paths] + list(others), timeout=1.0, resolver=NoDns())
    finally:
        release.set()
        await runner.cleanup()
    return results, methods_on_ok, base


def test_link_check_reports_each_kind_of_failure() -> None:
    refused = f"http://127.0.0.1:{closed_port()}/"
    unknown_host = "https://musterstadt.invalid/online/x"
    paths = ["/ok", "/status/404", "/status/500", "/no-head", "/slow", "/moved?to=/ok", "/moved?to=/status/410", "/ok"]
    results, methods_on_ok, base = asyncio.run(check_against_local_server(paths, [unknown_host, refused]))

    def at(path: str) -> LinkCheck:
        return results[base + path]

    assert len(results) == 9  # /ok given twice is checked once
    assert at("/ok").ok and at("/ok").status == 200
    assert methods_on_ok == ["HEAD", "HEAD"]  # /ok itself and via the redirect: HEAD was enough, never GET
    assert at("/status/404").error == "HTTP 404" and at("/status/500").error == "HTTP 500"
    assert at("/no-head").ok and at("/no-head").status == 200  # HEAD refused with 405, GET works
    assert at("/slow").error == "no answer within 1 s"
    assert at("/moved?to=/ok").ok and at("/moved?to=/status/410").error == "HTTP 410"
    assert results[unknown_host].error == "host not found (DNS lookup failed)"
    assert str(results[refused].error).startswith("request failed: Cannot connect")


def test_no_links_no_session() -> None:
    assert asyncio.run(check_links([])) == {}
