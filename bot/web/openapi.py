"""The back-office API's OpenAPI 3.1 description, written by hand next to the handlers it describes.

tests/web/test_backoffice.py checks that every route is in it, that the examples validate against
its schemas and that real answers do too; keep the three in step when a handler changes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.channels.registry import channel_kinds
from bot.core.cases import CASE_STATUSES, DOCUMENTS
from bot.reminders.backoffice import CASE_REFERENCE_RE, EXTERNAL_REF_RE, MAX_SUBJECT

MAX_BODY_BYTES = 64 * 1024

ERROR_CODES = ("invalid", "not_json", "unauthorized", "not_found", "method_not_allowed", "conflict", "too_large", "key_reused", "internal")


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def link_schemas() -> dict[str, dict[str, Any]]:
    """The deep links of the registered chat channels (bot.channels.registry), as "<Channel>Link" schemas."""
    return {f"{kind.name.title().replace('-', '').replace('_', '')}Link": dict(kind.link_schema) for kind in channel_kinds() if kind.link_schema}


def _json(schema_name: str, description: str, example: str | None = None) -> dict[str, Any]:
    content: dict[str, Any] = {"schema": _ref(schema_name)}
    if example is not None:
        content["examples"] = {"example": {"$ref": f"#/components/examples/{example}"}}
    return {"description": description, "content": {"application/json": content}}


def _error(description: str) -> dict[str, Any]:
    return _json("Error", description)


IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "Any printable ASCII string without spaces, up to 128 characters, new for each operation (a UUID will do). "
    "A retry with the same key and the same request gets the first (successful) answer again, with the header "
    "`Idempotent-Replayed: true`, and nothing is done twice. The same key with a different request is refused (422). "
    "Refused requests are not remembered: correct them and retry with the same key.",
    "schema": {"type": "string", "pattern": "^[\\x21-\\x7e]{1,128}$"},
}

REPLAYED = {"Idempotent-Replayed": {"description": "`true` when the answer is the stored one of an earlier request with the same key",
                                    "schema": {"type": "string", "enum": ["true"]}}}

COMMON_ERRORS = {
    "400": _error("A field is missing or invalid (`field` names it), or the body is not a JSON object"),
    "401": {**_error("No or an unknown bearer token"),
            "headers": {"WWW-Authenticate": {"description": "`Bearer realm=\"buergerbot\"`", "schema": {"type": "string"}}}},
    "422": _error("The Idempotency-Key was used before for a different request"),
}


def openapi_document(server_url: str, languages: Sequence[str]) -> dict[str, Any]:
    """The description, for the API mounted at ``server_url`` (e.g. ``/api/v1``) with these chat languages."""
    links = link_schemas()
    external_ref = {"type": "string", "pattern": f"^{EXTERNAL_REF_RE.pattern}$",
                    "description": "The booking system's own id of the appointment; unique per client"}
    reference = {"type": "string", "pattern": f"^{CASE_REFERENCE_RE.pattern}$", "description": "The case reference the citizen was given"}
    date_time = {"type": "string", "format": "date-time", "description": "ISO 8601 with UTC offset, e.g. 2026-03-05T09:30:00+01:00"}
    schemas: dict[str, Any] = {
        "NewAppointment": {
            "type": "object",
            "additionalProperties": False,
            "required": ["external_ref", "starts_at"],
            "properties": {
                "external_ref": external_ref,
                "starts_at": {**date_time, "description": "When the appointment starts; must be in the future (at most two years ahead)"},
                "office": {"type": ["string", "null"], "description": "Office id from the knowledge base (offices.yaml); "
                           "null or empty: none", "examples": ["buergerbuero"]},
                "subject": {"type": ["string", "null"], "maxLength": MAX_SUBJECT, "description": "What it is for, one line "
                            "(\"Personalausweis beantragen\"); shown in the reminders"},
                "language": {"type": ["string", "null"], "enum": [*languages, None], "description": "Language of the reminders "
                             "until the chat chooses its own; null or empty: the bot's default language"},
            },
        },
        **links,
        "CreatedAppointment": {
            "type": "object",
            "required": ["id", "external_ref", "starts_at", "token", "expires_at", "links", "created", "redeemed"],
            "properties": {
                "id": {"type": "string", "description": "The bot's id of the appointment"},
                "external_ref": external_ref,
                "starts_at": {**date_time, "description": "As stored, in city time"},
                "token": {"type": "string", "pattern": "^[A-Za-z0-9_-]{30,64}$", "description": "Single-use deep-link token for the "
                          "booking confirmation; valid until expires_at (at most a day after the appointment)"},
                "expires_at": date_time,
                "links": {"type": "array", "items": {"oneOf": [_ref(name) for name in links]},
                          "description": "One per configured chat profile"},
                "created": {"type": "boolean", "description": "false: the same appointment existed already; the token is a fresh "
                            "one for it and earlier tokens stay valid"},
                "redeemed": {"type": "boolean", "description": "A chat has already linked itself to the appointment"},
            },
        },
        "CancelledAppointment": {
            "type": "object",
            "required": ["id", "external_ref", "status", "notified"],
            "properties": {"id": {"type": "string"}, "external_ref": external_ref, "status": {"const": "cancelled"},
                           "notified": {"type": "integer", "minimum": 0, "description": "Linked chats that are told of the "
                                        "cancellation (0 when it was cancelled before or is already over)"}},
        },
        "CaseStatusUpdate": {
            "type": "object",
            "additionalProperties": False,
            "required": ["document", "status"],
            "properties": {
                "document": {"type": "string", "enum": sorted(DOCUMENTS)},
                "status": {"type": "string", "enum": sorted(CASE_STATUSES)},
                "changed_at": {"type": ["string", "null"], "format": "date-time", "description": "When the status changed (ISO 8601 "
                               "with offset; not in the future, at most two years ago). Absent or null: now. Send it, so that a late report cannot "
                               "overwrite a newer one"},
            },
        },
        "CaseStatusResult": {
            "type": "object",
            "required": ["reference", "document", "status", "changed_at", "applied", "notified", "followup_at"],
            "properties": {
                "reference": reference,
                "document": {"type": "string"},
                "status": {"type": "string"},
                "changed_at": date_time,
                "applied": {"type": "boolean", "description": "false: the known status is newer or the same; nothing changed "
                            "and the fields show the known status"},
                "notified": {"type": "integer", "minimum": 0, "description": "Subscribed chats that are told of the change"},
                "followup_at": {"type": ["string", "null"], "format": "date-time", "description": "ready_for_pickup: when "
                                "subscribers are reminded that the document still waits (10:00 city time)"},
            },
        },
        "Error": {
            "type": "object",
            "required": ["error", "message"],
            "properties": {"error": {"type": "string", "enum": list(ERROR_CODES)}, "message": {"type": "string"},
                           "field": {"type": "string", "description": "The invalid field, for error `invalid`"}},
        },
    }
    examples = {
        "NewAppointment": {"value": {"external_ref": "T-2026-000123", "starts_at": "2026-03-05T09:30:00+01:00", "office": "buergerbuero",
                                     "subject": "Personalausweis beantragen", "language": "de"}},
        "CaseStatusUpdate": {"value": {"document": "reisepass", "status": "ready_for_pickup", "changed_at": "2026-03-02T14:05:00+01:00"}},
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Bürgerbot back-office API",
            "version": "1.0.0",
            "description": "For the city's booking and case systems: create and cancel appointments that citizens link to their chat "
            "for reminders, and report the status of cases (e.g. a passport application) to the chats that follow them. "
            f"Every call but this description needs `Authorization: Bearer <token>` (one token per client system). Bodies are "
            f"JSON objects of at most {MAX_BODY_BYTES} bytes. Errors are JSON objects (`Error`).",
        },
        "servers": [{"url": server_url}],
        "security": [{"bearer": []}],
        "paths": {
            "/appointments": {
                "post": {
                    "operationId": "createAppointment",
                    "summary": "Create an appointment and get its deep-link token",
                    "description": "Creating the same external_ref again with the same data answers 200 with the existing appointment; "
                    "with other data, or after it was cancelled, 409 (to reschedule: cancel, then create with a new external_ref).",
                    "parameters": [IDEMPOTENCY_KEY],
                    "requestBody": {"required": True, "content": {"application/json": {
                        "schema": _ref("NewAppointment"), "examples": {"example": {"$ref": "#/components/examples/NewAppointment"}}}}},
                    "responses": {
                        "201": {**_json("CreatedAppointment", "Created"), "headers": REPLAYED},
                        "200": {**_json("CreatedAppointment", "It existed already with the same data"), "headers": REPLAYED},
                        **COMMON_ERRORS,
                        "409": _error("The external_ref exists with other data, or was cancelled"),
                        "413": _error(f"Body larger than {MAX_BODY_BYTES} bytes"),
                    },
                },
            },
            "/appointments/{external_ref}": {
                "delete": {
                    "operationId": "cancelAppointment",
                    "summary": "Cancel an appointment: its reminders stop and linked chats are told",
                    "description": "Cancelling again answers 200 and tells nobody again.",
                    "parameters": [{"name": "external_ref", "in": "path", "required": True, "schema": external_ref}, IDEMPOTENCY_KEY],
                    "responses": {
                        "200": {**_json("CancelledAppointment", "Cancelled"), "headers": REPLAYED},
                        **COMMON_ERRORS,
                        "404": _error("The client has no appointment with this external_ref"),
                    },
                },
            },
            "/cases/{reference}/status": {
                "post": {
                    "operationId": "postCaseStatus",
                    "summary": "Report a case's new status; subscribed chats are told",
                    "description": "ready_for_pickup also schedules a reminder after the configured number of days (10:00 city time) "
                    "that the next status report cancels. A report older than, or the same as, the known status changes nothing. "
                    "A case belongs to the client that reported it first (409 for others).",
                    "parameters": [{"name": "reference", "in": "path", "required": True, "schema": reference}, IDEMPOTENCY_KEY],
                    "requestBody": {"required": True, "content": {"application/json": {
                        "schema": _ref("CaseStatusUpdate"), "examples": {"example": {"$ref": "#/components/examples/CaseStatusUpdate"}}}}},
                    "responses": {
                        "200": {**_json("CaseStatusResult", "Recorded (or ignored as not newer: see applied)"), "headers": REPLAYED},
                        **COMMON_ERRORS,
                        "409": _error("The case is reported by another client"),
                        "413": _error(f"Body larger than {MAX_BODY_BYTES} bytes"),
                    },
                },
            },
            "/openapi.json": {
                "get": {
                    "operationId": "openapi",
                    "summary": "This description",
                    "security": [],
                    "responses": {"200": {"description": "OpenAPI 3.1 document", "content": {"application/json": {"schema": {"type": "object"}}}}},
                },
            },
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "description": "The client's token (from the "
                                           "environment variable its configuration names)"}},
            "schemas": schemas,
            "examples": examples,
        },
    }
