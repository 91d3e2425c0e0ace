"""The bot's HTTP server: ``/metrics``, ``/healthz`` and ``/readyz``, and room for more route tables.

``/healthz`` answers 200 while the process serves HTTP at all (liveness). ``/readyz`` runs the
named readiness checks at once: 200 when all pass, else 503 with a JSON body naming what is not
ready. A check is an async callable returning None when fine, or a short reason. The body's
``status`` is "ready", else what ``phase`` says ("starting", "draining"), else "not ready".

More routes come in as *extensions*: callables that get the application before it starts. The
back-office API, for example, is a module with its own route table or sub-app::

    # bot/web/backoffice.py
    routes = web.RouteTableDef()

    @routes.get("/api/v1/cases/{ref}")
    async def case(request: web.Request) -> web.Response: ...

    def install(app: web.Application) -> None:
        app.add_routes(routes)                 # or: app.add_subapp("/api/v1/", its_own_app)

    # bot/runtime.py
    create_app(metrics, checks, extensions=[backoffice.install])

Extensions find the process's :class:`Metrics` under ``app[METRICS]`` and keep their own state under
their own ``web.AppKey``; anything they need from outside (storage, settings) they take as
arguments through ``functools.partial``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from http import HTTPStatus

from aiohttp import web

from bot.ops.metrics import Metrics

log = logging.getLogger(__name__)

Check = Callable[[], Awaitable[str | None]]
Phase = Callable[[], str | None]  # "starting", "draining", or None while the process runs normally
Extension = Callable[[web.Application], None]

METRICS = web.AppKey("metrics", Metrics)


def create_app(
    metrics: Metrics, checks: Mapping[str, Check], extensions: Sequence[Extension] = (), check_timeout: float = 5.0, phase: Phase | None = None,
) -> web.Application:
    app = web.Application()
    app[METRICS] = metrics
    routes = web.RouteTableDef()

    @routes.get("/healthz")
    async def healthz(request: web.Request) -> web.Response:
        return web.json_response({"status": "alive"})

    @routes.get("/readyz")
    async def readyz(request: web.Request) -> web.Response:
        names = list(checks)
        results = await asyncio.gather(*(_run_check(checks[n], check_timeout) for n in names))
        outcome = {name: reason or "ok" for name, reason in zip(names, results, strict=True)}
        not_ready = [name for name, reason in zip(names, results, strict=True) if reason]
        status = "ready" if not not_ready else (phase() if phase is not None else None) or "not ready"
        body = {"status": status, "ready": not not_ready, "not_ready": not_ready, "checks": outcome}
        return web.json_response(body, status=503 if not_ready else 200)

    @routes.get("/metrics")
    async def metrics_page(request: web.Request) -> web.Response:
        body, content_type = metrics.exposition(request.headers.get("Accept", ""))
        return web.Response(body=body, headers={"Content-Type": content_type})

    app.add_routes(routes)
    for extend in extensions:
        extend(app)
    return app


async def _run_check(check: Check, timeout: float) -> str | None:
    try:
        async with asyncio.timeout(timeout):
            return await check()
    except TimeoutError:
        return f"no answer within {timeout:g} s"
    except Exception as exc:  # a failing check means "not ready", never a 500
        log.warning("readiness check failed: %s", type(exc).__name__)
        return f"failed: {type(exc).__name__}"


class _GenericErrorPages(web.RequestHandler):
    """aiohttp answers a request its parser refuses (a header line over 8,190 bytes, a malformed
    header) with the parser's message as the body, and that message quotes the offending line: the
    bearer token of an oversized Authorization header, for one. Here the body is the status phrase
    only; aiohttp.server still logs the detail, masked by the log filter (bot.ops.logs)."""

    __slots__ = ()  # the same layout as RequestHandler, so an instance of it can become one of these

    def handle_error(self, request: web.BaseRequest, status: int = 500, exc: BaseException | None = None,
                     message: str | None = None) -> web.StreamResponse:
        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:
            phrase = "Error"
        return super().handle_error(request, status, exc, phrase)


class _Server(web.Server):
    """aiohttp's server, making :class:`_GenericErrorPages` for each connection."""

    def __call__(self) -> web.RequestHandler:
        handler = super().__call__()
        handler.__class__ = _GenericErrorPages
        return handler


class _Runner(web.AppRunner):
    """An AppRunner whose connections answer unparsable requests with :class:`_GenericErrorPages`.

    aiohttp has no setting for the handler class; the server and each handler are built by aiohttp
    with all their arguments and only take our subclass, which adds methods but no state.
    """

    async def _make_server(self) -> web.Server:
        server = await super()._make_server()
        server.__class__ = _Server
        return server


class HttpServer:
    """Serves ``app`` on ``listen:port`` between :meth:`start` and :meth:`stop` (port 0: any free one)."""

    def __init__(self, app: web.Application, listen: str = "127.0.0.1", port: int = 8080) -> None:
        self.app = app
        self.listen = listen
        self.requested_port = port
        self._runner: web.AppRunner | None = None

    @property
    def port(self) -> int:
        """The port actually bound (after :meth:`start`)."""
        if self._runner is None or not self._runner.addresses:
            raise RuntimeError("the HTTP server is not running")
        return int(self._runner.addresses[0][1])

    async def start(self) -> None:
        runner = _Runner(self.app, access_log=None)  # scrapes every few seconds would drown the log
        await runner.setup()
        try:
            await web.TCPSite(runner, self.listen, self.requested_port).start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        log.info("http server listening on %s:%d", self.listen, self.port, extra={"http_port": self.port})

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
