"""The back-office OpenAPI document: generated from the models and the operations table, valid, and complete."""

from __future__ import annotations

import functools

import pytest
from aiohttp import web
from openapi_spec_validator import validate as validate_openapi
from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode
from sqlalchemy import Engine

from bot.config import Settings
from bot.ops.metrics import Metrics
from bot.reminders.api_models import CreatedAppointment, NewAppointment, appointment_model, documented_created_appointment
from bot.web.backoffice import install_backoffice
from bot.web.openapi import OPERATIONS, REF_TEMPLATE, openapi_document
from bot.web.server import create_app
from tests.reminders.conftest import OFFICES, Clock
from tests.web.conftest import PREFIX, Api


@pytest.mark.parametrize("languages", [["de", "en"], ["de"], ["de", "en", "tr", "ar", "uk"]])
def test_the_document_is_valid_openapi_for_any_languages(languages: list[str]) -> None:
    doc = openapi_document(PREFIX, languages)
    validate_openapi(doc)
    assert doc["openapi"].startswith("3.")
    assert doc["components"]["schemas"]["NewAppointment"]["properties"]["language"]["enum"] == [*languages, None]


def used_models(languages: list[str]) -> list[tuple[type[BaseModel], JsonSchemaMode]]:
    uses: list[tuple[type[BaseModel], JsonSchemaMode]] = []
    for operation in OPERATIONS:
        if operation.request is not None:
            model = appointment_model(tuple(languages)) if operation.request is NewAppointment else operation.request
            uses.append((model, "validation"))
        uses += [(documented_created_appointment() if answer.model is CreatedAppointment else answer.model, "serialization")
                 for answer in operation.answers.values() if answer.model is not None]
    return uses


def test_every_schema_is_its_models_own() -> None:
    """No hand-written copy: each component is exactly what pydantic says of the model in that mode."""
    doc = openapi_document(PREFIX, ["de", "en"])
    schemas = doc["components"]["schemas"]
    seen = set()
    for model, mode in used_models(["de", "en"]):
        own = model.model_json_schema(mode=mode, ref_template=REF_TEMPLATE)
        nested = own.pop("$defs", {})
        assert schemas[model.__name__] == own, model.__name__
        for name, schema in nested.items():
            assert schemas[name] == schema, name
        seen |= {model.__name__, *nested}
    assert seen == set(schemas)


def test_request_examples_come_from_the_models_and_pass_them() -> None:
    doc = openapi_document(PREFIX, ["de", "en"])
    examples = doc["components"]["examples"]
    assert set(examples) == {"NewAppointment", "CaseStatusUpdate"}
    for model, mode in used_models(["de", "en"]):
        if mode == "validation":
            model.model_validate(examples[model.__name__]["value"])


def operations_server(engine: Engine, settings: Settings, clock: Clock) -> web.Application:
    return create_app(Metrics(), {}, extensions=[functools.partial(install_backoffice, engine, settings, lambda: OFFICES, clock)])


def test_every_route_of_the_operations_server_under_the_api_is_documented(engine: Engine, settings: Settings, clock: Clock) -> None:
    app = operations_server(engine, settings, clock)
    routed: set[tuple[str, str]] = set()
    for resource in app.router.resources():
        if isinstance(resource, web.PrefixedSubAppResource) and resource.canonical == "/api/v1":
            sub_app: web.Application = resource.get_info()["app"]
            for route in sub_app.router.routes():
                if route.method != "HEAD" and route.resource is not None:
                    routed.add((route.method, route.resource.canonical.removeprefix(PREFIX)))
    doc = openapi_document(PREFIX, settings.languages)
    documented = {(method.upper(), path) for path, operations in doc["paths"].items() for method in operations}
    assert routed == documented and len(documented) == len(OPERATIONS)


def test_each_documented_operation_reaches_its_handler(api: Api) -> None:
    """Without a token each protected operation answers 401 (not 404 or 405), and the public one its document."""
    doc = api.request("GET", "/openapi.json", token=None).body
    samples = {"external_ref": "T-1", "reference": "RP-1"}
    for path, operations in doc["paths"].items():
        for method, operation in operations.items():
            reply = api.request(method.upper(), path.format(**samples), {} if "requestBody" in operation else None, token=None)
            expected = 200 if operation.get("security") == [] else 401
            assert reply.status == expected, (method, path, reply.body)


def test_the_served_document_is_the_generated_one(api: Api, settings: Settings) -> None:
    served = api.request("GET", "/openapi.json", token=None).body
    assert served == openapi_document(PREFIX, settings.languages)

