"""python-telegram-bot's HTTP layer on aiohttp instead of httpx.

Measured here against the fake Bot API, a send through the default httpx layer cost about 2 ms of
CPU and got slower with more connections in flight (httpcore scans its pool on every request);
aiohttp's C-accelerated client does the same work for a fraction. The library supports swapping
this layer (``BaseRequest``); everything above it — the Bot API methods, errors, retries, rate
limiting — stays python-telegram-bot's.

What a failed request may have done is told apart here, where it is known, for the senders that
must not resend a message Telegram may already have shown: a connection that failed before the
request left is a plain ``NetworkError`` with the connection error as its cause, a timeout while
waiting for the answer ``TimedOut`` (the request may have been carried out; a 504 is one too, as
it only says that Telegram's front end gave up waiting), another 5xx answer ``ServerError``
(Telegram failed it), and a 4xx the library has no error class for (413, 414, …) ``Refused``, a
``BadRequest``.

Only python-telegram-bot's public API is used: ``json_request`` carries plain JSON values to this
layer's ``do_request`` through ``BaseRequest.post`` without the library's ``RequestData``, whose
constructor takes its private ``RequestParameter``.
"""

from __future__ import annotations

import json
from typing import Any, cast

import aiohttp
from telegram.error import BadRequest, NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

_JSON = {"Content-Type": "application/json"}


class ServerError(NetworkError):
    """Telegram answered 5xx (not 504): the request failed there and may be sent again."""


class Refused(BadRequest):
    """Telegram answered a 4xx that python-telegram-bot maps to no error class of its own."""


_MAPPED = frozenset({400, 401, 403, 404, 409, 429})  # the 4xx python-telegram-bot turns into its own errors


class JsonParameters:
    """Parameters that already are plain JSON values (no files, no library objects), with the
    documented read side of ``RequestData`` that request layers use."""

    __slots__ = ("parameters",)
    contains_files = False
    multipart_data: dict[str, Any] = {}  # noqa: RUF012  (never written: there are no files)

    def __init__(self, values: dict[str, Any]) -> None:
        self.parameters = {name: value for name, value in values.items() if value is not None}

    @property
    def json_parameters(self) -> dict[str, str]:
        """Each value JSON-encoded, strings as they are (what form-encoding layers send)."""
        return {name: value if isinstance(value, str) else json.dumps(value) for name, value in self.parameters.items()}


def json_request(values: dict[str, Any]) -> RequestData:
    """Request data for ``BaseRequest.post`` from plain JSON values.

    The adapter's replies and reminders are built this way, skipping the library's conversion of
    every parameter (made for library objects such as keyboards: about 40 µs a message).
    ``BaseRequest.post`` hands its request data unchanged to ``do_request``, and every request
    layer reads only the documented ``contains_files``, ``parameters``, ``json_parameters`` and
    ``multipart_data`` of it, which ``JsonParameters`` has; the cast says so to the type checker.
    """
    return cast(RequestData, JsonParameters(values))


class AiohttpRequest(BaseRequest):
    __slots__ = ("_connections", "_session", "_timeouts")

    def __init__(self, connection_pool_size: int = 64, read_timeout: float | None = 5.0, write_timeout: float | None = 5.0,
                 connect_timeout: float | None = 5.0, pool_timeout: float | None = 1.0) -> None:
        self._connections = connection_pool_size
        self._timeouts = {"read": read_timeout, "write": write_timeout, "connect": connect_timeout, "pool": pool_timeout}
        self._session: aiohttp.ClientSession | None = None

    @property
    def read_timeout(self) -> float | None:
        return self._timeouts["read"]

    async def initialize(self) -> None:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=self._connections), headers={"User-Agent": self.USER_AGENT})

    async def shutdown(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()

    async def do_request(
        self, url: str, method: str, request_data: RequestData | None = None,
        read_timeout: object = BaseRequest.DEFAULT_NONE, write_timeout: object = BaseRequest.DEFAULT_NONE,
        connect_timeout: object = BaseRequest.DEFAULT_NONE, pool_timeout: object = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        if self._session is None or self._session.closed:
            raise RuntimeError("AiohttpRequest is not initialized")
        read = self._timeout("read", read_timeout)
        connect = self._timeout("connect", connect_timeout)
        pool = self._timeout("pool", pool_timeout)
        write = self._timeout("write", write_timeout)
        # aiohttp has no separate write timeout: a read window covers the whole exchange after connecting.
        total = None if read is None else read + (write or 0.0) + (connect or 0.0) + (pool or 0.0)
        timeout = aiohttp.ClientTimeout(total=total, connect=None if connect is None and pool is None else (connect or 0.0) + (pool or 0.0), sock_read=read)
        data: aiohttp.FormData | bytes | None = None
        headers = None
        if request_data is not None:
            if request_data.contains_files:
                form = aiohttp.FormData()
                for name, value in request_data.json_parameters.items():
                    form.add_field(name, value)
                for name, (filename, content, mimetype) in request_data.multipart_data.items():
                    form.add_field(name, content, filename=filename, content_type=mimetype)
                data = form
            else:
                # A JSON body, which the Bot API accepts for every method without files: url-encoding
                # a long HTML answer in pure Python cost ~0.2 ms a message, json.dumps a few µs.
                data = json.dumps(request_data.parameters, ensure_ascii=False).encode()
                headers = _JSON
        try:
            async with self._session.request(method, url, data=data, headers=headers, timeout=timeout) as response:
                status, body = response.status, await response.read()
        except aiohttp.ConnectionTimeoutError as exc:  # nothing was sent: not a doubt like a read timeout
            raise NetworkError(f"aiohttp.{type(exc).__name__}: {exc}") from exc
        except (TimeoutError, aiohttp.ServerTimeoutError) as exc:
            raise TimedOut from exc
        except aiohttp.ClientError as exc:
            raise NetworkError(f"aiohttp.{type(exc).__name__}: {exc}") from exc
        if status == 504:
            raise TimedOut("Telegram's front end timed out (504)")
        if status >= 500:
            raise ServerError(f"Telegram answered {status}")
        if 400 <= status < 500 and status not in _MAPPED:
            raise Refused(_description(body) or f"Telegram answered {status}")
        return status, body

    def _timeout(self, kind: str, given: object) -> float | None:
        if given is BaseRequest.DEFAULT_NONE:
            return self._timeouts[kind]
        return None if given is None else float(given)  # type: ignore[arg-type]


def _description(body: bytes) -> str:
    try:
        answer = json.loads(body)
    except ValueError:
        return ""
    return str(answer.get("description") or "") if isinstance(answer, dict) else ""
