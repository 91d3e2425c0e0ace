"""The back-office API: an aiohttp sub-application the operations server mounts (e.g. under /api/v1).

Routes (bot.web.openapi.OPERATIONS, which the handlers are registered from; its description is served at GET /openapi.json):

* ``POST /appointments``                 create an appointment, answer its deep-link token and links
* ``DELETE /appointments/{external_ref}`` cancel it
* ``POST /cases/{reference}/status``     report a case's status

Every route but the description wants ``Authorization: Bearer <token>``; each configured client has
its own token, read from the environment variable its configuration names. Database work runs in
the process's pool (bot.blocking), so the event loop (and the chat channels sharing it) never waits
for the database.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from sqlalchemy import Connection, Engine

from bot.blocking import run_blocking
from bot.config import Settings
from bot.credentials import MissingSecret, backoffice_token
from bot.ops.logs import redact
from bot.reminders.api_models import Conflict, ErrorBody, ErrorCode, InvalidField, NotFound, external_ref_adapter, parse_value
from bot.reminders.backoffice import RESERVED_SOURCES, Backoffice, parse_case_update
from bot.web.idempotency import KEY_RE, Answer, KeyReused, fingerprint, run_once
from bot.web.openapi import MAX_BODY_BYTES, OPERATIONS, openapi_document

log = logging.getLogger(__name__)

MIN_TOKEN_CHARS = 32  # e.g. python -c "import secrets; print(secrets.token_urlsafe(32))" gives 43
REALM = 'Bearer realm="buergerbot"'
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class _State:
    engine: Engine
    service: Backoffice
    tokens: tuple[tuple[bytes, str], ...]  # (sha256 of the token, client name)
    clock: Callable[[], dt.datetime]
    languages: tuple[str, ...]


STATE = web.AppKey("backoffice", _State)
CLIENT = web.RequestKey("backoffice_client", str)  # the authenticated client's name


class _Refused(Exception):
    """An answer that is not a success, raised from anywhere below the middleware."""

    def __init__(self, status: int, error: ErrorCode, message: str, field: str | None = None, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.error, self.message, self.field, self.headers = status, error, message, field, headers or {}


def client_tokens(settings: Settings) -> tuple[tuple[bytes, str], ...]:
    """The configured clients' token digests; raises :class:`MissingSecret` for a missing, short or shared token."""
    out: list[tuple[bytes, str]] = []
    for client in settings.backoffice_clients:
        if client.name in RESERVED_SOURCES:
            raise MissingSecret(f"backoffice client {client.name}: the name is reserved for appointments added in the chat")
        token = backoffice_token(client)
        if not token.strip():
            raise MissingSecret(f"backoffice client {client.name}: the token in {client.token_env} is only spaces")
        if len(token) < MIN_TOKEN_CHARS:
            raise MissingSecret(f"backoffice client {client.name}: the token in {client.token_env} needs at least {MIN_TOKEN_CHARS} characters")
        digest = hashlib.sha256(token.encode()).digest()
        if any(digest == d for d, _ in out):
            raise MissingSecret(f"backoffice client {client.name}: its token is another client's too")
        out.append((digest, client.name))
    return tuple(out)


def create_backoffice_app(engine: Engine, settings: Settings, known_offices: Callable[[], Collection[str]],
                          clock: Callable[[], dt.datetime]) -> web.Application:
    """The sub-application; raises :class:`MissingSecret` when a token or the deep-link keys are not configured.

    ``known_offices`` returns the office ids of the live knowledge; ``clock`` the current, timezone-aware time.
    """
    state = _State(engine, Backoffice.from_settings(settings, known_offices, clock), client_tokens(settings), clock, tuple(settings.languages))
    app = web.Application(middlewares=[_answer_errors, _authenticate])
    app[STATE] = state
    for operation in OPERATIONS:
        app.router.add_route(operation.method, operation.path, _HANDLERS[operation.operation_id])
    return app


def _error_body(error: ErrorCode, message: str, field: str | None = None) -> dict[str, Any]:
    # Messages quote what the client sent (an unknown office id, a field name); the log filter's
    # masking keeps a secret pasted into the wrong field from being echoed where proxies log it.
    body = ErrorBody(error=error, message=redact(message), field=None if field is None else redact(field))
    return body.model_dump(mode="json", exclude_none=True)


@web.middleware
async def _answer_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every refusal as a JSON ``ErrorBody``; never a traceback to the client."""
    try:
        return await handler(request)
    except _Refused as exc:
        return web.json_response(_error_body(exc.error, exc.message, exc.field), status=exc.status, headers=exc.headers)
    except InvalidField as exc:
        return web.json_response(_error_body("invalid", exc.reason, exc.field), status=400)
    except NotFound as exc:
        return web.json_response(_error_body("not_found", exc.message), status=404)
    except Conflict as exc:
        return web.json_response(_error_body("conflict", exc.message), status=409)
    except KeyReused:
        return web.json_response(_error_body("key_reused", "this Idempotency-Key was used for a different request"), status=422)
    except web.HTTPException as exc:  # aiohttp's own: unknown route, wrong method
        codes: dict[int, ErrorCode] = {404: "not_found", 405: "method_not_allowed", 413: "too_large"}
        error = codes.get(exc.status, "invalid")
        headers = {k: v for k, v in exc.headers.items() if k.lower() in ("allow",)}
        return web.json_response(_error_body(error, exc.reason), status=exc.status, headers=headers)
    except Exception:
        log.exception("back-office request %s %s failed", request.method, request.path)
        return web.json_response(_error_body("internal", "internal error; the request may be retried"), status=500)


@web.middleware
async def _authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.match_info.handler in _PUBLIC:
        return await handler(request)
    scheme, _, token = request.headers.get("Authorization", "").strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise _Refused(401, "unauthorized", "send Authorization: Bearer <token>", headers={"WWW-Authenticate": REALM})
    digest = hashlib.sha256(token.strip().encode()).digest()
    client = None
    for known, name in request.app[STATE].tokens:  # no early exit: the time taken does not tell which client matched
        if hmac.compare_digest(digest, known):
            client = name
    if client is None:
        raise _Refused(401, "unauthorized", "unknown token", headers={"WWW-Authenticate": f'{REALM}, error="invalid_token"'})
    request[CLIENT] = client
    return await handler(request)


async def _json_object(request: web.Request) -> dict[str, Any]:
    too_large = _Refused(413, "too_large", f"the body must not be larger than {MAX_BODY_BYTES} bytes")
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        raise too_large
    data = bytearray()
    async for chunk in request.content.iter_any():
        data += chunk
        if len(data) > MAX_BODY_BYTES:
            raise too_large
    try:
        # Decoded here: json.loads would take UTF-16 and UTF-32 bytes too, and JSON on the wire is UTF-8
        # (RFC 8259, which lets a parser ignore a UTF-8 byte order mark).
        text = bytes(data).decode("utf-8-sig")
    except UnicodeDecodeError:
        raise _Refused(400, "not_json", "the body must be UTF-8 encoded JSON (not UTF-16 or another encoding)") from None
    try:
        body = json.loads(text)
    except (ValueError, RecursionError):  # JSONDecodeError is a ValueError
        raise _Refused(400, "not_json", "the body must be a JSON object (Content-Type: application/json, UTF-8)") from None
    if not isinstance(body, dict):
        raise _Refused(400, "not_json", "the body must be a JSON object")
    return body


async def _execute(request: web.Request, body: dict[str, Any] | None, action: Callable[[Connection], Answer]) -> web.Response:
    """Run ``action`` in one transaction in a worker thread, once per Idempotency-Key."""
    state = request.app[STATE]
    client: str = request[CLIENT]
    key = request.headers.get("Idempotency-Key")

    def work() -> Answer:
        if key is None:
            with state.engine.begin() as conn:
                return action(conn)
        return run_once(state.engine, client, key, fingerprint(request.method, request.path, body), action, state.clock())

    if key is not None and not KEY_RE.fullmatch(key):
        raise _Refused(400, "invalid", "1 to 128 printable ASCII characters without spaces", field="Idempotency-Key")
    answer = await run_blocking(work)
    headers = {"Idempotent-Replayed": "true"} if answer.replayed else {}
    return web.json_response(answer.body, status=answer.status, headers=headers)


async def _create_appointment(request: web.Request) -> web.Response:
    state = request.app[STATE]
    body = await _json_object(request)
    new = state.service.parse_appointment(body)

    def action(conn: Connection) -> Answer:
        created = state.service.create_appointment(conn, request[CLIENT], new)
        log.info("back-office %s: appointment %s (%s) %s", request[CLIENT], created.id, created.external_ref,
                 "created" if created.created else "existed")
        return Answer(201 if created.created else 200, created.as_json())

    return await _execute(request, body, action)


async def _cancel_appointment(request: web.Request) -> web.Response:
    state = request.app[STATE]
    external_ref = parse_value(external_ref_adapter, "external_ref", request.match_info["external_ref"])

    def action(conn: Connection) -> Answer:
        cancelled = state.service.cancel_appointment(conn, request[CLIENT], external_ref=external_ref)
        log.info("back-office %s: appointment %s (%s) cancelled, %d chats notified", request[CLIENT], cancelled.id, external_ref, cancelled.notified)
        return Answer(200, cancelled.as_json())

    return await _execute(request, None, action)


async def _post_case_status(request: web.Request) -> web.Response:
    state = request.app[STATE]
    body = await _json_object(request)
    case = parse_case_update(request.match_info["reference"], body)

    def action(conn: Connection) -> Answer:
        result = state.service.post_case_status(conn, request[CLIENT], case)
        log.info("back-office %s: case %s %s (%s), %d chats notified", request[CLIENT], case.reference, case.status,
                 "applied" if result.applied else "not newer", result.notified)
        return Answer(200, result.as_json())

    return await _execute(request, body, action)


async def _openapi(request: web.Request) -> web.Response:
    mounted_at = request.path.removesuffix("/openapi.json")
    return web.json_response(openapi_document(mounted_at or "/", request.app[STATE].languages))


_HANDLERS: dict[str, Handler] = {
    "createAppointment": _create_appointment,
    "cancelAppointment": _cancel_appointment,
    "postCaseStatus": _post_case_status,
    "openapi": _openapi,
}
_PUBLIC = frozenset(_HANDLERS[operation.operation_id] for operation in OPERATIONS if operation.public)  # documented without security


def install_backoffice(engine: Engine, settings: Settings, known_offices: Callable[[], Collection[str]], clock: Callable[[], dt.datetime],
                       app: web.Application) -> None:
    """Mount the API under /api/v1 on the operations server (an extension of bot.web.server)."""
    app.add_subapp("/api/v1/", create_backoffice_app(engine, settings, known_offices, clock))
