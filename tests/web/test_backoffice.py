"""The back-office API over HTTP, on SQLite and PostgreSQL: auth, idempotency, validation, the OpenAPI description."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from collections.abc import Callable, Collection
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate as validate_openapi
from sqlalchemy import Engine, func, select, text

from bot.config import BackofficeClient, Settings
from bot.core.models import NoticeKind
from bot.credentials import MissingSecret
from bot.storage.tables import AppointmentRow, IdempotencyRow
from bot.web.backoffice import create_backoffice_app
from bot.web.openapi import openapi_document
from tests.reminders.conftest import NOW, OFFICES, TOKENS, Clock, link_chat, reminders, subscribe
from tests.web.conftest import PREFIX, Api, Reply

DOC = openapi_document(PREFIX, ["de", "en"])
NEW = {"external_ref": "T-1", "starts_at": "2026-10-23T09:30:00+02:00", "office": "buergerbuero", "subject": "Personalausweis beantragen",
       "language": "de"}


def validator(schema: dict[str, Any]) -> Draft202012Validator:
    """A validator for ``schema`` whose ``#/components/…`` references resolve in the OpenAPI document."""
    return Draft202012Validator({**schema, "components": DOC["components"]}, format_checker=Draft202012Validator.FORMAT_CHECKER)


def conforms(reply: Reply, template: str, method: str) -> Reply:
    """Assert the answer is one the description promises for this operation, and return it."""
    responses = DOC["paths"][template][method.lower()]["responses"]
    assert str(reply.status) in responses, f"{method} {template}: status {reply.status} not described: {reply.body}"
    schema = responses[str(reply.status)]["content"]["application/json"]["schema"]
    validator(schema).validate(reply.body)
    assert reply.headers.get("Content-Type", "").startswith("application/json")
    return reply


def count(engine: Engine, table: Any) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


# Authentication


@pytest.mark.parametrize("authorization", [None, "Bearer nope-nope-nope-nope-nope-nope-nope-nope", "Basic dGVybWluZTpzZWNyZXQ=", "Bearer ", "Bearer"])
def test_unauthenticated_requests_get_401_with_a_challenge(api: Api, engine: Engine, authorization: str | None) -> None:
    headers = {"Authorization": authorization} if authorization is not None else {}
    reply = conforms(api.request("POST", "/appointments", NEW, token=None, headers=headers), "/appointments", "POST")
    assert reply.status == 401 and reply.body["error"] == "unauthorized"
    assert reply.headers["WWW-Authenticate"].startswith('Bearer realm="buergerbot"')
    assert count(engine, AppointmentRow) == 0


def test_each_client_is_itself(api: Api, engine: Engine) -> None:
    assert api.request("POST", "/appointments", NEW, token=TOKENS["termine"]).status == 201
    assert api.request("POST", "/appointments", NEW, token=TOKENS["ausweis"]).status == 201  # its own external_ref space
    with engine.connect() as conn:
        assert sorted(conn.execute(select(AppointmentRow.source)).scalars()) == ["ausweis", "termine"]
    assert api.request("DELETE", "/appointments/T-1", token=TOKENS["ausweis"]).status == 200
    with engine.connect() as conn:
        assert {source: status for source, status in conn.execute(select(AppointmentRow.source, AppointmentRow.status))} == {
            "ausweis": "cancelled", "termine": "active"}


def test_missing_or_short_client_tokens_stop_the_start(engine: Engine, settings: Settings, clock: Clock, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_BACKOFFICE_AUSWEIS", "short")
    with pytest.raises(MissingSecret, match="at least 32"):
        create_backoffice_app(engine, settings, lambda: OFFICES, clock)
    monkeypatch.setenv("TEST_BACKOFFICE_AUSWEIS", TOKENS["termine"])
    with pytest.raises(MissingSecret, match="another client"):
        create_backoffice_app(engine, settings, lambda: OFFICES, clock)
    monkeypatch.delenv("TEST_BACKOFFICE_AUSWEIS")
    with pytest.raises(MissingSecret, match="TEST_BACKOFFICE_AUSWEIS"):
        create_backoffice_app(engine, settings, lambda: OFFICES, clock)
    monkeypatch.setenv("TEST_BACKOFFICE_AUSWEIS", TOKENS["ausweis"])
    with pytest.raises(MissingSecret, match="reserved"):
        create_backoffice_app(engine, settings.model_copy(update={"backoffice_clients": [BackofficeClient(name="chat", token_env="X")]}),
                              lambda: OFFICES, clock)
    monkeypatch.delenv("BUERGERBOT_LINK_KEYS")
    with pytest.raises(MissingSecret, match="BUERGERBOT_LINK_KEYS"):
        create_backoffice_app(engine, settings, lambda: OFFICES, clock)


# Appointments


def test_create_answers_token_and_links(api: Api, engine: Engine) -> None:
    reply = conforms(api.request("POST", "/appointments", NEW), "/appointments", "POST")
    assert reply.status == 201 and reply.body["created"] is True
    token = reply.body["token"]
    assert f"https://t.me/MusterstadtBot?start={token}" in [link.get("url") for link in reply.body["links"]]
    assert f"!link {token}" in [link.get("command") for link in reply.body["links"]]
    again = conforms(api.request("POST", "/appointments", NEW), "/appointments", "POST")
    assert (again.status, again.body["id"], again.body["created"]) == (200, reply.body["id"], False)
    other = conforms(api.request("POST", "/appointments", {**NEW, "starts_at": "2026-10-23T10:30:00+02:00"}), "/appointments", "POST")
    assert other.status == 409 and other.body["error"] == "conflict"
    assert count(engine, AppointmentRow) == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**NEW, "starts_at": "2026-10-23T09:30"}, "starts_at"),
        ({**NEW, "starts_at": "2026-10-19T09:30:00+02:00"}, "starts_at"),
        ({**NEW, "office": "mond"}, "office"),
        ({**NEW, "language": "tr"}, "language"),
        ({**NEW, "external_ref": "a b"}, "external_ref"),
        ({k: v for k, v in NEW.items() if k != "external_ref"}, "external_ref"),
        ({**NEW, "extra": 1}, "extra"),
    ],
)
def test_invalid_fields_are_400_naming_the_field(api: Api, body: dict[str, Any], field: str) -> None:
    reply = conforms(api.request("POST", "/appointments", body), "/appointments", "POST")
    assert (reply.status, reply.body["error"], reply.body["field"]) == (400, "invalid", field)
    assert reply.body["message"]


@pytest.mark.parametrize(
    ("data", "content_type"),
    [(b"external_ref=T-1", "application/x-www-form-urlencoded"), (b"{", "application/json"), (b"[1, 2]", "application/json"),
     (b"", "application/json"), (b"\xff\xfe{}", "application/json"), (b"[" * 5000 + b"]" * 5000, "application/json"), (b"null", "application/json")],
)
def test_bodies_that_are_not_json_objects_are_400(api: Api, data: bytes, content_type: str) -> None:
    reply = conforms(api.request("POST", "/appointments", data=data, headers={"Content-Type": content_type}), "/appointments", "POST")
    assert (reply.status, reply.body["error"]) == (400, "not_json")


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be", "utf-32"])
def test_bodies_not_in_utf8_are_400(api: Api, engine: Engine, encoding: str) -> None:
    data = json.dumps(NEW).encode(encoding)  # "utf-16" and "utf-32" start with a byte order mark, the others do not
    reply = conforms(api.request("POST", "/appointments", data=data, headers={"Content-Type": "application/json"}), "/appointments", "POST")
    assert (reply.status, reply.body["error"]) == (400, "not_json") and "UTF-8" in reply.body["message"]
    assert count(engine, AppointmentRow) == 0


def test_a_utf8_byte_order_mark_is_ignored(api: Api) -> None:
    reply = api.request("POST", "/appointments", data=b"\xef\xbb\xbf" + json.dumps(NEW).encode(), headers={"Content-Type": "application/json"})
    assert reply.status == 201


def test_a_lone_surrogate_in_a_field_name_is_400(api: Api) -> None:
    reply = conforms(api.request("POST", "/appointments", data=b'{"\\ud800": 1}', headers={"Content-Type": "application/json"}),
                     "/appointments", "POST")
    assert (reply.status, reply.body["error"]) == (400, "invalid")


@pytest.mark.parametrize("field", ["subject", "office", "external_ref", "language"])
def test_a_lone_surrogate_is_400_naming_the_field(api: Api, engine: Engine, field: str) -> None:
    data = json.dumps(NEW).replace(f'"{field}": "', f'"{field}": "\\ud800', 1).encode()  # valid JSON, but not Unicode text
    assert "\\ud800" in data.decode()
    reply = conforms(api.request("POST", "/appointments", data=data, headers={"Content-Type": "application/json"}), "/appointments", "POST")
    assert (reply.status, reply.body["error"], reply.body["field"]) == (400, "invalid", field)
    assert count(engine, AppointmentRow) == 0


def test_a_lone_surrogate_in_a_case_status_is_400(api: Api) -> None:
    data = b'{"document": "personalausweis", "status": "ready_for_pickup\\udc00", "changed_at": "2026-10-20T09:00:00+02:00"}'
    reply = conforms(api.request("POST", "/cases/B-1/status", data=data, headers={"Content-Type": "application/json"}),
                     "/cases/{reference}/status", "POST")
    assert (reply.status, reply.body["error"], reply.body["field"]) == (400, "invalid", "status")


@pytest.mark.parametrize("moment", ["0001-01-01T00:00:00+01:00", "0001-01-01T00:30:00+00:45", "0001-01-01T00:00:00+00:00",
                                    "9999-12-31T23:59:59-01:00", "9999-12-31T23:59:59+00:00", "9999-12-31T23:59:59.999999-23:59"])
def test_times_at_the_ends_of_the_calendar_are_400(api: Api, engine: Engine, moment: str) -> None:
    appointment = conforms(api.request("POST", "/appointments", {**NEW, "starts_at": moment}), "/appointments", "POST")
    assert (appointment.status, appointment.body["error"], appointment.body["field"]) == (400, "invalid", "starts_at")
    case = conforms(api.request("POST", "/cases/B-1/status", {"document": "personalausweis", "status": "in_progress", "changed_at": moment}),
                    "/cases/{reference}/status", "POST")
    assert (case.status, case.body["error"], case.body["field"]) == (400, "invalid", "changed_at")
    assert count(engine, AppointmentRow) == 0


def test_bodies_over_64_kib_are_413(api: Api, engine: Engine) -> None:
    big = {**NEW, "subject": "x" * (64 * 1024)}
    reply = conforms(api.request("POST", "/appointments", big), "/appointments", "POST")
    assert (reply.status, reply.body["error"]) == (413, "too_large")

    async def chunked() -> Any:  # no Content-Length: the limit holds while reading
        async def body() -> Any:
            for _ in range(80):
                yield b" " * 1024
        async with api.client.post(PREFIX + "/appointments", data=body(), headers={"Authorization": f"Bearer {TOKENS['termine']}"}) as r:
            return r.status, await r.json()

    assert api.loop.run_until_complete(chunked()) == (413, {"error": "too_large", "message": reply.body["message"]})
    assert count(engine, AppointmentRow) == 0


def test_unknown_routes_and_methods_answer_json(api: Api) -> None:
    missing = api.request("GET", "/appointments/T-1")
    assert missing.status == 405 and missing.body["error"] == "method_not_allowed" and "DELETE" in missing.headers["Allow"]
    assert api.request("POST", "/nothing-here", {}).status == 404


def test_cancel_tells_linked_chats_once(api: Api, engine: Engine) -> None:
    created = api.request("POST", "/appointments", NEW).body
    link_chat(engine, created["id"], "100")
    link_chat(engine, created["id"], "200")
    template = "/appointments/{external_ref}"
    reply = conforms(api.request("DELETE", "/appointments/T-1", key="cancel-1"), template, "DELETE")
    assert reply.status == 200 and reply.body == {"id": created["id"], "external_ref": "T-1", "status": "cancelled", "notified": 2}
    retry = conforms(api.request("DELETE", "/appointments/T-1", key="cancel-1"), template, "DELETE")
    assert (retry.status, retry.body, retry.headers["Idempotent-Replayed"]) == (200, reply.body, "true")
    plain_again = conforms(api.request("DELETE", "/appointments/T-1"), template, "DELETE")
    assert (plain_again.status, plain_again.body["notified"]) == (200, 0)
    assert len(reminders(engine, kind=NoticeKind.APPOINTMENT_CANCELLED.value)) == 2
    assert conforms(api.request("DELETE", "/appointments/T-404"), template, "DELETE").status == 404
    bad = conforms(api.request("DELETE", "/appointments/T:%20x"), template, "DELETE")
    assert (bad.status, bad.body["field"]) == (400, "external_ref")


# Cases


def test_case_status_notifies_and_a_retry_with_the_key_does_not_again(api: Api, engine: Engine, clock: Clock) -> None:
    template = "/cases/{reference}/status"
    first = conforms(api.request("POST", "/cases/RP-1/status", {"document": "reisepass", "status": "received"}, token=TOKENS["ausweis"]),
                     template, "POST")
    assert first.status == 200 and first.body["notified"] == 0
    subscribe(engine, "s1", "RP-1", "!a:x")
    body = {"document": "reisepass", "status": "ready_for_pickup"}  # no changed_at: now
    ready = conforms(api.request("POST", "/cases/RP-1/status", body, token=TOKENS["ausweis"], key="k-ready"), template, "POST")
    assert ready.status == 200 and (ready.body["applied"], ready.body["notified"]) == (True, 1)
    assert ready.body["followup_at"] == "2026-10-27T10:00:00+01:00"
    clock.now = NOW + dt.timedelta(minutes=3)  # a retry computed afresh would have another changed_at
    retry = api.request("POST", "/cases/RP-1/status", body, token=TOKENS["ausweis"], key="k-ready")
    assert (retry.status, retry.body, retry.headers.get("Idempotent-Replayed")) == (200, ready.body, "true")
    assert [r["kind"] for r in reminders(engine)] == ["case_status", "case_followup"]
    bad = conforms(api.request("POST", "/cases/RP-1/status", {"document": "reisepass", "status": "lost"}, token=TOKENS["ausweis"]), template, "POST")
    assert (bad.status, bad.body["field"]) == (400, "status")
    foreign = conforms(api.request("POST", "/cases/RP-1/status", {"document": "reisepass", "status": "collected"}), template, "POST")
    assert foreign.status == 409


# Idempotency


def test_a_retry_returns_the_first_answer_and_does_nothing_again(api: Api, engine: Engine) -> None:
    first = api.request("POST", "/appointments", NEW, key="booking-42")
    reordered = dict(reversed(list(NEW.items())))  # the same JSON, written differently
    retry = api.request("POST", "/appointments", reordered, key="booking-42")
    assert (first.status, retry.status) == (201, 201)
    assert retry.body == first.body and retry.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert count(engine, AppointmentRow) == 1 and count(engine, IdempotencyRow) == 1


def test_a_key_reused_for_another_request_is_422(api: Api) -> None:
    assert api.request("POST", "/appointments", NEW, key="k1").status == 201
    for method, path, body in [("POST", "/appointments", {**NEW, "external_ref": "T-2"}), ("DELETE", "/appointments/T-1", None)]:
        reply = conforms(api.request(method, path, body, key="k1"), "/appointments" if method == "POST" else "/appointments/{external_ref}", method)
        assert (reply.status, reply.body["error"]) == (422, "key_reused")
    assert api.request("POST", "/appointments", {**NEW, "external_ref": "T-2"}, key="k1", token=TOKENS["ausweis"]).status == 201  # keys are per client


def test_refused_requests_are_not_remembered(api: Api, engine: Engine) -> None:
    assert api.request("POST", "/appointments", {**NEW, "office": "mond"}, key="k1").status == 400
    assert api.request("POST", "/appointments", NEW, key="k1").status == 201
    assert count(engine, IdempotencyRow) == 1


@pytest.mark.parametrize("key", ["", "a b", "x" * 129, "schlüssel"])
def test_malformed_keys_are_400(api: Api, key: str) -> None:
    reply = api.request("POST", "/appointments", NEW, headers={"Idempotency-Key": key.encode().decode("latin-1")})
    assert (reply.status, reply.body["field"]) == (400, "Idempotency-Key")


def test_parallel_identical_requests_execute_once(make_api: Callable[..., Api], engine: Engine) -> None:
    """Two identical requests at once: exactly one creates, the other gets its stored answer. On PostgreSQL the first
    request holds its transaction open until the second one is seen waiting for the key, so they really overlap."""
    hold = engine.dialect.name == "postgresql"
    calls: list[int] = []

    def offices() -> Collection[str]:
        calls.append(1)
        if hold and len(calls) == 1:
            wait_for_blocked_insert(engine, "idempotency_keys")
        return OFFICES

    api = make_api(known_offices=offices)
    replies = api.parallel(*[lambda: api.send("POST", "/appointments", NEW, key="same") for _ in range(2)])
    assert sorted(r.status for r in replies) == [201, 201]
    assert replies[0].body == replies[1].body
    assert sorted(r.headers.get("Idempotent-Replayed", "") for r in replies) == ["", "true"]
    assert len(calls) == 1 and count(engine, AppointmentRow) == 1


def test_parallel_identical_requests_without_key_create_one_appointment(make_api: Callable[..., Api], engine: Engine) -> None:
    """Without a key both requests run; both pass validation before either inserts, and the unique external_ref
    makes the later insert find the earlier one's appointment instead of failing or duplicating it."""
    both_validated = threading.Barrier(2, timeout=30)

    def offices() -> Collection[str]:
        both_validated.wait()
        return OFFICES

    api = make_api(known_offices=offices)
    replies = api.parallel(*[lambda: api.send("POST", "/appointments", NEW) for _ in range(2)])
    assert sorted(r.status for r in replies) == [200, 201]
    assert replies[0].body["id"] == replies[1].body["id"]
    assert count(engine, AppointmentRow) == 1


def wait_for_blocked_insert(engine: Engine, table: str) -> None:
    """Until another connection waits at an INSERT into ``table`` (bounded: fail, do not hang)."""
    deadline = time.monotonic() + 30
    with engine.connect() as conn:
        while time.monotonic() < deadline:
            waiting = conn.execute(text(
                "select count(*) from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock' "
                "and query like :insert"
            ), {"insert": f"INSERT INTO {table} %"}).scalar_one()
            if waiting:
                return
            conn.rollback()
            threading.Event().wait(0.02)
    raise AssertionError(f"the other request never waited at the insert into {table}")


# The description


def test_openapi_is_served_without_auth_and_is_valid(api: Api) -> None:
    reply = api.request("GET", "/openapi.json", token=None)
    assert reply.status == 200
    doc = reply.body
    assert doc["servers"] == [{"url": PREFIX}]
    validate_openapi(doc)
    assert doc["components"]["schemas"]["NewAppointment"]["properties"]["language"]["enum"] == ["de", "en", None]


def test_every_route_is_described_and_every_description_routed(api: Api) -> None:
    routes = {(route.method, route.resource.canonical.removeprefix(PREFIX)) for route in api.app.router.routes()
              if route.resource is not None and route.method != "HEAD"}
    described = {(method.upper(), path) for path, operations in DOC["paths"].items() for method in operations}
    assert routes == described


def test_examples_validate_against_their_schemas(api: Api) -> None:
    checked = 0
    for operations in DOC["paths"].values():
        for operation in operations.values():
            content = operation.get("requestBody", {}).get("content", {}).get("application/json")
            if not content:
                continue
            for example in content["examples"].values():
                name = example["$ref"].rsplit("/", 1)[1]
                validator(content["schema"]).validate(DOC["components"]["examples"][name]["value"])
                checked += 1
    assert checked == 2
    with pytest.raises(Exception, match="external_ref"):
        validator({"$ref": "#/components/schemas/NewAppointment"}).validate({"starts_at": "2026-03-05T09:30:00+01:00"})


def test_examples_are_accepted_by_the_handlers(api: Api, clock: Clock) -> None:
    clock.now = dt.datetime(2026, 3, 2, 14, 10, tzinfo=dt.UTC)  # the examples are written for early March 2026
    appointment = DOC["components"]["examples"]["NewAppointment"]["value"]
    assert conforms(api.request("POST", "/appointments", appointment), "/appointments", "POST").status == 201
    case = DOC["components"]["examples"]["CaseStatusUpdate"]["value"]
    assert conforms(api.request("POST", "/cases/RP-1/status", case), "/cases/{reference}/status", "POST").status == 200
