"""The back-office API's operations, and its OpenAPI 3.1 document generated from them and the models.

:data:`OPERATIONS` says, for each route, its method and path, the request model and the answers it
gives; bot.web.backoffice registers its handlers from the same table, so a route cannot exist
undescribed. The schemas are pydantic's JSON Schema of the models in bot.reminders.api_models
(requests in validation mode, answers in serialisation mode), referenced as
``#/components/schemas/<Model>``; the examples are the models' own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, TypeAdapter
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from bot.reminders.api_models import (
    CancelledAppointment,
    CaseStatusResult,
    CaseStatusUpdate,
    CreatedAppointment,
    ErrorBody,
    NewAppointment,
    appointment_model,
    case_reference_adapter,
    documented_created_appointment,
    external_ref_adapter,
)
from bot.web.idempotency import KEY_RE

MAX_BODY_BYTES = 64 * 1024
REF_TEMPLATE = "#/components/schemas/{model}"
Method = Literal["GET", "POST", "DELETE"]


@dataclass(frozen=True)
class DocumentedStatus:
    """One documented status: a model for the body (None: any JSON object) and when it comes."""

    description: str
    model: type[BaseModel] | None = ErrorBody
    headers: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Operation:
    method: Method
    path: str  # aiohttp's route template, which OpenAPI's path templates share
    operation_id: str
    summary: str
    answers: Mapping[int, DocumentedStatus]
    description: str = ""
    request: type[BaseModel] | None = None
    path_parameters: Mapping[str, TypeAdapter[str]] = field(default_factory=dict)
    public: bool = False  # no bearer token needed; no Idempotency-Key (it changes nothing)


IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "Any printable ASCII string without spaces, up to 128 characters, new for each operation (a UUID will do). "
    "A retry with the same key and the same request gets the first (successful) answer again, with the header "
    "`Idempotent-Replayed: true`, and nothing is done twice. The same key with a different request is refused (422). "
    "Refused requests are not remembered: correct them and retry with the same key.",
    "schema": {"type": "string", "pattern": f"^{KEY_RE.pattern}$"},
}

REPLAYED = {"Idempotent-Replayed": {"description": "`true` when the answer is the stored one of an earlier request with the same key",
                                    "schema": {"type": "string", "enum": ["true"]}}}

# Every operation that needs a token can give these.
COMMON_REFUSALS = {
    400: DocumentedStatus("A field is missing or invalid (`field` names it), or the body is not a JSON object"),
    401: DocumentedStatus("No or an unknown bearer token",
                headers={"WWW-Authenticate": {"description": "`Bearer realm=\"buergerbot\"`", "schema": {"type": "string"}}}),
    422: DocumentedStatus("The Idempotency-Key was used before for a different request"),
}
TOO_LARGE = {413: DocumentedStatus(f"Body larger than {MAX_BODY_BYTES} bytes")}

OPERATIONS: tuple[Operation, ...] = (
    Operation(
        "POST", "/appointments", "createAppointment", "Create an appointment and get its deep-link token",
        description="Creating the same external_ref again with the same data answers 200 with the existing appointment; "
        "with other data, or after it was cancelled, 409 (to reschedule: cancel, then create with a new external_ref).",
        request=NewAppointment,
        answers={
            201: DocumentedStatus("Created", CreatedAppointment, REPLAYED),
            200: DocumentedStatus("It existed already with the same data", CreatedAppointment, REPLAYED),
            **COMMON_REFUSALS,
            409: DocumentedStatus("The external_ref exists with other data, or was cancelled"),
            **TOO_LARGE,
        },
    ),
    Operation(
        "DELETE", "/appointments/{external_ref}", "cancelAppointment", "Cancel an appointment: its reminders stop and linked chats are told",
        description="Cancelling again answers 200 and tells nobody again.",
        path_parameters={"external_ref": external_ref_adapter},
        answers={
            200: DocumentedStatus("Cancelled", CancelledAppointment, REPLAYED),
            **COMMON_REFUSALS,
            404: DocumentedStatus("The client has no appointment with this external_ref"),
        },
    ),
    Operation(
        "POST", "/cases/{reference}/status", "postCaseStatus", "Report a case's new status; subscribed chats are told",
        description="ready_for_pickup also schedules a reminder after the configured number of days (10:00 city time) that the "
        "next status report cancels. A report older than, or the same as, the known status changes nothing. A case belongs to "
        "the client that reported it first (409 for others).",
        request=CaseStatusUpdate,
        path_parameters={"reference": case_reference_adapter},
        answers={
            200: DocumentedStatus("Recorded (or ignored as not newer: see applied)", CaseStatusResult, REPLAYED),
            **COMMON_REFUSALS,
            409: DocumentedStatus("The case is reported by another client"),
            **TOO_LARGE,
        },
    ),
    Operation("GET", "/openapi.json", "openapi", "This description", public=True, answers={200: DocumentedStatus("OpenAPI 3.1 document", None)}),
)


def openapi_document(server_url: str, languages: Sequence[str]) -> dict[str, Any]:
    """The description, for the API mounted at ``server_url`` (e.g. ``/api/v1``) with these chat languages."""
    # The models that depend on the configuration: the appointment's language is one of the bot's,
    # and the links are those of the registered chat channels.
    configured: dict[type[BaseModel], type[BaseModel]] = {NewAppointment: appointment_model(tuple(languages)),
                                                          CreatedAppointment: documented_created_appointment()}
    uses: list[tuple[type[BaseModel], JsonSchemaMode]] = []
    for operation in OPERATIONS:
        if operation.request is not None:
            uses.append((configured.get(operation.request, operation.request), "validation"))
        uses += [(configured.get(answer.model, answer.model), "serialization") for answer in operation.answers.values() if answer.model is not None]
    references, definitions = models_json_schema(list(dict.fromkeys(uses)), ref_template=REF_TEMPLATE)
    schemas: dict[str, Any] = definitions["$defs"]

    def reference(model: type[BaseModel] | None, mode: JsonSchemaMode) -> dict[str, Any]:
        if model is None:
            return {"type": "object"}
        return dict(references[(configured.get(model, model), mode)])

    # Request examples go to components/examples too, where an operation can name them.
    examples = {name: {"value": schema["examples"][0]} for name, schema in schemas.items() if schema.get("examples")}
    paths: dict[str, dict[str, Any]] = {}
    for operation in OPERATIONS:
        entry: dict[str, Any] = {"operationId": operation.operation_id, "summary": operation.summary}
        if operation.description:
            entry["description"] = operation.description
        parameters = [{"name": name, "in": "path", "required": True, "schema": adapter.json_schema(ref_template=REF_TEMPLATE)}
                      for name, adapter in operation.path_parameters.items()]
        if operation.public:
            entry["security"] = []
        else:
            parameters.append(IDEMPOTENCY_KEY)
        if parameters:
            entry["parameters"] = parameters
        if operation.request is not None:
            schema = reference(operation.request, "validation")
            content: dict[str, Any] = {"schema": schema}
            name = schema["$ref"].rsplit("/", 1)[1]
            if name in examples:
                content["examples"] = {"example": {"$ref": f"#/components/examples/{name}"}}
            entry["requestBody"] = {"required": True, "content": {"application/json": content}}
        entry["responses"] = {
            str(status): {"description": answer.description, "content": {"application/json": {"schema": reference(answer.model, "serialization")}},
                          **({"headers": dict(answer.headers)} if answer.headers else {})}
            for status, answer in operation.answers.items()
        }
        paths.setdefault(operation.path, {})[operation.method.lower()] = entry
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Bürgerbot back-office API",
            "version": "1.0.0",
            "description": "For the city's booking and case systems: create and cancel appointments that citizens link to their chat "
            "for reminders, and report the status of cases (e.g. a passport application) to the chats that follow them. "
            f"Every call but this description needs `Authorization: Bearer <token>` (one token per client system). Bodies are "
            f"JSON objects of at most {MAX_BODY_BYTES} bytes. Errors are JSON objects (`{ErrorBody.__name__}`).",
        },
        "servers": [{"url": server_url}],
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "description": "The client's token (from the "
                                           "environment variable its configuration names)"}},
            "schemas": schemas,
            "examples": examples,
        },
    }
