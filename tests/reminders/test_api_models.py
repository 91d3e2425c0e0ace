"""The back-office models: validation names the field in our words, answers serialise as the API promises."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.channels.entries.matrix import MatrixLink
from bot.channels.entries.telegram import TelegramLink
from bot.reminders.api_models import (
    APPOINTMENT_FIELDS,
    CancelledAppointment,
    CaseStatusResult,
    CaseStatusUpdate,
    CreatedAppointment,
    InvalidField,
    NewAppointment,
    appointment_model,
    case_reference_adapter,
    documented_created_appointment,
    external_ref_adapter,
    parse,
    parse_value,
)

BERLIN = ZoneInfo("Europe/Berlin")
SECRET = "ausweis-token-0123456789abcdefghijklmnop"
VALID = {"external_ref": "T-1", "starts_at": "2026-10-23T09:30:00+02:00"}


def refusal(raw: dict[str, Any], model: type[Any] | None = None) -> InvalidField:
    with pytest.raises(InvalidField) as info:
        parse(model or appointment_model(("de", "en")), raw)
    return info.value


@pytest.mark.parametrize(
    ("raw", "field", "message"),
    [
        ({"starts_at": VALID["starts_at"]}, "external_ref", "is required"),
        ({**VALID, "external_ref": "   "}, "external_ref", "is required"),
        ({**VALID, "external_ref": 17}, "external_ref", "must be a string"),
        ({**VALID, "office": ["buergerbuero"]}, "office", "must be a string"),
        ({**VALID, "starts_at": 1792733400}, "starts_at", "ISO 8601"),
        ({**VALID, "starts_at": "2026-10-23T09:30:00"}, "starts_at", "UTC offset"),
        ({**VALID, "language": "fr"}, "language", "must be one of de, en"),
        ({**VALID, "subject": "x" * 201}, "subject", "at most 200 characters"),
    ],
)
def test_refusals_name_the_field_in_our_words(raw: dict[str, Any], field: str, message: str) -> None:
    refused = refusal(raw)
    assert refused.field == field and message in refused.reason
    assert "pydantic" not in refused.reason.lower() and "Input should" not in refused.reason


def test_an_unknown_field_is_named_before_the_others_and_the_known_ones_listed() -> None:
    refused = refusal({"start_at": "morgen", "external_ref": 17})
    assert refused.field == "start_at"
    assert refused.reason == f"unknown field (known: {', '.join(APPOINTMENT_FIELDS)})"


def test_a_secret_in_the_wrong_field_is_not_echoed() -> None:
    for field in ("starts_at", "language", "external_ref"):
        refused = refusal({**VALID, field: SECRET + " x"})
        assert refused.field == field and SECRET not in refused.message


def test_fields_are_stripped_and_blank_optional_ones_are_absent() -> None:
    new = parse(appointment_model(("de",)), {"external_ref": " T-1 ", "starts_at": VALID["starts_at"], "office": " ", "subject": None})
    assert (new.external_ref, new.office, new.subject, new.language) == ("T-1", None, None, None)
    assert new.starts_at == dt.datetime(2026, 10, 23, 9, 30, tzinfo=dt.timezone(dt.timedelta(hours=2)))


def test_the_appointment_model_follows_the_bots_languages() -> None:
    model = appointment_model(("de", "en", "tr"))
    assert issubclass(model, NewAppointment) and model is appointment_model(("de", "en", "tr"))
    assert parse(model, {**VALID, "language": "tr"}).language == "tr"
    assert model.model_json_schema()["properties"]["language"]["enum"] == ["de", "en", "tr", None]
    assert refusal({**VALID, "language": "tr"}, appointment_model(("de",))).reason == "must be one of de"


def test_path_values_are_checked_exactly_and_references_normalised() -> None:
    assert parse_value(case_reference_adapter, "reference", "rp-1") == "RP-1"
    for value in ("T-1 ", "a/b", ""):
        with pytest.raises(InvalidField) as info:
            parse_value(external_ref_adapter, "external_ref", value)
        assert info.value.field == "external_ref"


def test_case_updates_refuse_unknown_vocabulary() -> None:
    assert parse(CaseStatusUpdate, {"document": "reisepass", "status": "received"}).changed_at is None
    refused = refusal({"document": "reisepass", "status": "done"}, CaseStatusUpdate)
    assert refused.field == "status" and "ready_for_pickup" in refused.reason


def test_answers_serialise_with_the_offsets_they_were_given() -> None:
    starts = dt.datetime(2026, 10, 23, 9, 30, tzinfo=BERLIN)
    expires = dt.datetime(2026, 10, 24, 7, 30, tzinfo=dt.UTC)
    token = "A" * 40
    links = (TelegramLink(profile="buerger", url=f"https://t.me/MusterstadtBot?start={token}"),
             MatrixLink(profile="welcome", user_id="@welcome:x", command=f"!link {token}"))
    created = CreatedAppointment(id="abc", external_ref="T-1", starts_at=starts, token=token, expires_at=expires, links=links,
                                 created=True, redeemed=False)
    body = created.as_json()
    assert (body["starts_at"], body["expires_at"]) == ("2026-10-23T09:30:00+02:00", "2026-10-24T07:30:00+00:00")
    assert body["links"] == [{"channel": "telegram", "profile": "buerger", "url": f"https://t.me/MusterstadtBot?start={token}"},
                             {"channel": "matrix", "profile": "welcome", "user_id": "@welcome:x", "command": f"!link {token}"}]
    assert [link.instruction() for link in created.links] == [f"https://t.me/MusterstadtBot?start={token}", f"!link {token}"]
    # A stored answer, read back as documented, is the same answer, each link its channel's model.
    documented = documented_created_appointment()
    assert documented.model_validate(json.loads(json.dumps(body))).as_json() == body
    assert [type(link) for link in documented.model_validate(body).links] == [TelegramLink, MatrixLink]
    assert CancelledAppointment(id="abc", external_ref="T-1", notified=2).as_json() == {
        "id": "abc", "external_ref": "T-1", "status": "cancelled", "notified": 2}
    result = CaseStatusResult(reference="RP-1", document="reisepass", status="received", changed_at=starts, applied=True, notified=0,
                              followup_at=None)
    assert result.as_json()["followup_at"] is None and result.as_json()["changed_at"] == "2026-10-23T09:30:00+02:00"
