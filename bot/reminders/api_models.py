"""The back-office contract as pydantic models: what the city's systems send, what they get back.

One definition serves three purposes: the request models *are* the parsers (the API and the CSV
import validate with them), the response models *are* the serialisers (``model_dump(mode="json")``),
and bot.web.openapi generates the OpenAPI document from both. A constraint is therefore written
once, as a validator next to the JSON Schema keyword that documents it.

Validation errors become :class:`InvalidField` naming the first bad field, with a message written
for the client's developers; pydantic's own text is used only where ours has nothing better, and
never the input value (a secret pasted into the wrong field must not come back in the answer).
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Collection, Mapping
from typing import Annotated, Any, Literal, TypeVar, Union, get_args

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    JsonValue,
    PlainSerializer,
    SerializeAsAny,
    TypeAdapter,
    ValidationError,
    WithJsonSchema,
    create_model,
)
from pydantic_core import ErrorDetails, PydanticCustomError

from bot.channels.registry import DeepLink, link_models
from bot.core.cases import CASE_STATUSES, DOCUMENTS, normalise_reference

EXTERNAL_REF_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")  # goes into URL paths: no "/" or spaces
CASE_REFERENCE_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}")
TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{30,64}")
MAX_SUBJECT = 200
EXAMPLE_TIME = "2026-03-05T09:30:00+01:00"
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")
_SURROGATE_RE = re.compile(r"[\ud800-\udfff]")  # JSON's \ud800 escapes give these; no text can be stored or sent with one
# A day from either end: every time zone's offset fits, so UTC and city time exist for every time in between.
_CALENDAR_MIN = dt.datetime.min + dt.timedelta(days=1)
_CALENDAR_MAX = dt.datetime.max - dt.timedelta(days=1)


# Errors


class BackofficeError(Exception):
    """A request the service refuses; ``message`` is English for the client's developers and staff."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidField(BackofficeError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.reason = message


class NotFound(BackofficeError):
    pass


class Conflict(BackofficeError):
    pass


ErrorCode = Literal["invalid", "not_json", "unauthorized", "not_found", "method_not_allowed", "conflict", "too_large", "key_reused", "internal"]
ERROR_CODES: tuple[str, ...] = get_args(ErrorCode)


class ErrorBody(BaseModel):
    """Every refusal, whatever its status code."""

    model_config = ConfigDict(frozen=True)

    error: ErrorCode
    message: str
    field: str | None = Field(default=None, description="The invalid field, for error `invalid`")


# Field types: a validator (our message) and the JSON Schema keyword that documents the same rule


def _refuse(message: str) -> PydanticCustomError:
    return PydanticCustomError("invalid_field", message)


def _text(value: object) -> str | None:
    """The stripped string; None when absent or blank."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise _refuse("must be a string")
    if _SURROGATE_RE.search(value):
        raise _refuse("is not valid Unicode text (it contains a lone surrogate, such as \\ud800)")
    return value.strip() or None


def _required_text(value: object) -> str:
    text = _text(value)
    if text is None:
        raise _refuse("is required")
    return text


def _matching(pattern: re.Pattern[str], message: str) -> AfterValidator:
    def check(value: str) -> str:
        if not pattern.fullmatch(value):
            raise _refuse(message)
        return value

    return AfterValidator(check)


def _one_of(allowed: Collection[str]) -> AfterValidator:
    def check(value: str | None) -> str | None:
        if value is not None and value not in allowed:
            raise _refuse(f"must be one of {', '.join(sorted(allowed))}")
        return value

    return AfterValidator(check)


def _time(value: object) -> dt.datetime:
    """An ISO 8601 date and time with offset, far enough from the ends of the calendar to convert."""
    if isinstance(value, dt.datetime):
        moment = value
    elif isinstance(value, str):
        try:
            moment = dt.datetime.fromisoformat(value.strip())
        except ValueError:
            # The value is not quoted: a secret pasted into the wrong field must not come back.
            raise _refuse(f"is not an ISO 8601 date and time, e.g. {EXAMPLE_TIME}") from None
    else:
        raise _refuse(f"must be a string: an ISO 8601 date and time with offset, e.g. {EXAMPLE_TIME}")
    offset = moment.utcoffset()
    if offset is None:
        raise _refuse(f"needs a UTC offset, e.g. {EXAMPLE_TIME} or …Z")
    # At the ends of the calendar the conversion to UTC, or from UTC to city time, leaves years 1 to 9999.
    try:
        in_range = _CALENDAR_MIN <= moment.replace(tzinfo=None) - offset <= _CALENDAR_MAX
    except OverflowError:
        in_range = False
    if not in_range:
        raise _refuse("is too close to the ends of the calendar (years 1 and 9999)")
    return moment


def _one_line_subject(value: str | None) -> str | None:
    if value is not None and len(value) > MAX_SUBJECT:
        raise _refuse(f"at most {MAX_SUBJECT} characters")
    if value is not None and _CONTROL_RE.search(value):
        raise _refuse("must be one line without control characters")
    return value


_DATE_TIME_SCHEMA = {"type": "string", "format": "date-time"}
# isoformat, not pydantic's "Z" for UTC: answers keep one spelling of the offset, stored replays included.
_ISO = PlainSerializer(lambda moment: moment.isoformat(), return_type=str, when_used="json")

# As in a URL path: no spaces around it (a request body's fields are stripped first).
ExternalRef = Annotated[
    str,
    _matching(EXTERNAL_REF_RE, "must be 1 to 128 characters of A-Z a-z 0-9 . _ : - starting with a letter or digit"),
    Field(description="The booking system's own id of the appointment; unique per client",
          json_schema_extra={"pattern": f"^{EXTERNAL_REF_RE.pattern}$"}),
]
CaseReference = Annotated[
    str,
    _matching(CASE_REFERENCE_RE, "must be 1 to 64 characters of A-Z a-z 0-9 . _ : - starting with a letter or digit"),
    AfterValidator(normalise_reference),
    Field(description="The case reference the citizen was given", json_schema_extra={"pattern": f"^{CASE_REFERENCE_RE.pattern}$"}),
]
RequestTime = Annotated[AwareDatetime, BeforeValidator(_time), _ISO, WithJsonSchema(_DATE_TIME_SCHEMA)]
AnswerTime = Annotated[AwareDatetime, _ISO, WithJsonSchema(_DATE_TIME_SCHEMA)]
OptionalText = Annotated[str | None, BeforeValidator(_text)]
DocumentId = Annotated[str, BeforeValidator(_required_text), _one_of(DOCUMENTS), Field(json_schema_extra={"enum": sorted(DOCUMENTS)})]
CaseStatus = Annotated[str, BeforeValidator(_required_text), _one_of(CASE_STATUSES),
                       Field(json_schema_extra={"enum": sorted(CASE_STATUSES)})]

external_ref_adapter: TypeAdapter[str] = TypeAdapter(ExternalRef)
case_reference_adapter: TypeAdapter[str] = TypeAdapter(CaseReference)


# Requests


class _Request(BaseModel):
    # Unknown fields are refused (a typo in a field name is not silently ignored); the check runs
    # in :func:`parse`, before the fields, so its message can list the known ones.
    model_config = ConfigDict(frozen=True, extra="forbid")


APPOINTMENT_EXAMPLE: dict[str, JsonValue] = {"external_ref": "T-2026-000123", "starts_at": EXAMPLE_TIME, "office": "buergerbuero",
                                             "subject": "Personalausweis beantragen", "language": "de"}


class NewAppointment(_Request):
    """An appointment as the booking system reports it."""

    # ``language`` is checked against the bot's languages by the subclass :func:`appointment_model` makes.
    model_config = ConfigDict(json_schema_extra={"examples": [APPOINTMENT_EXAMPLE]})

    external_ref: Annotated[ExternalRef, BeforeValidator(_required_text)]
    starts_at: RequestTime = Field(description="When the appointment starts; must be in the future (at most two years ahead)")
    office: OptionalText = Field(default=None, description="Office id from the knowledge base (offices.yaml); null or empty: none",
                                 examples=["buergerbuero"])
    subject: Annotated[OptionalText, AfterValidator(_one_line_subject)] = Field(
        default=None, description="What it is for, one line (\"Personalausweis beantragen\"); shown in the reminders",
        json_schema_extra={"maxLength": MAX_SUBJECT})
    language: OptionalText = Field(default=None, description="Language of the reminders until the chat chooses its own; "
                                   "null or empty: the bot's default language")


APPOINTMENT_FIELDS = tuple(NewAppointment.model_fields)


@functools.cache
def appointment_model(languages: tuple[str, ...]) -> type[NewAppointment]:
    """:class:`NewAppointment` for a bot speaking ``languages``: the check and the documented enum come from the same tuple."""
    language = Annotated[OptionalText, _one_of(languages), Field(json_schema_extra={"enum": [*languages, None]})]
    model: type[NewAppointment] = create_model(
        "NewAppointment", __base__=NewAppointment, __doc__=NewAppointment.__doc__,
        language=(language, Field(default=None, description=NewAppointment.model_fields["language"].description)),
    )
    return model


class CaseStatusUpdate(_Request):
    """A case's new status, as the case system reports it."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"document": "reisepass", "status": "ready_for_pickup", "changed_at": "2026-03-02T14:05:00+01:00"}]})

    document: DocumentId
    status: CaseStatus
    changed_at: RequestTime | None = Field(default=None, description="When the status changed (ISO 8601 with offset; not in the "
                                           "future, at most two years ago). Absent or null: now. Send it, so that a late report "
                                           "cannot overwrite a newer one")


class CaseUpdate(CaseStatusUpdate):
    """A status update with the case it is for (the reference comes from the URL)."""

    reference: CaseReference


_Model = TypeVar("_Model", bound=BaseModel)


def parse(model: type[_Model], raw: Mapping[str, object]) -> _Model:
    """``raw`` validated as ``model``; raises :class:`InvalidField` naming the first bad field (unknown fields first)."""
    known = list(model.model_fields)
    for key in raw:
        if key not in known:
            raise InvalidField(str(key), f"unknown field (known: {', '.join(known)})")
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise invalid_field(exc.errors(include_url=False, include_input=False)[0]) from None


def parse_value(adapter: TypeAdapter[str], field: str, value: object) -> str:
    """One value (a path parameter) validated by its field type; raises :class:`InvalidField`."""
    try:
        return adapter.validate_python(value)
    except ValidationError as exc:
        raise invalid_field(exc.errors(include_url=False, include_input=False)[0], field) from None


_MESSAGES = {"missing": "is required", "string_type": "must be a string", "extra_forbidden": "unknown field"}


def invalid_field(error: ErrorDetails, field: str | None = None) -> InvalidField:
    """pydantic's error as ours: the field from its location, our message where we wrote one, never the input."""
    name = field or ".".join(str(part) for part in error["loc"]) or "body"
    message = error["msg"] if error["type"] == "invalid_field" else _MESSAGES.get(error["type"], error["msg"])
    return InvalidField(name, message)


# Answers


class _Answer(BaseModel):
    # Every field is in every answer, defaults included: the document says so (required).
    model_config = ConfigDict(frozen=True, json_schema_serialization_defaults_required=True)

    def as_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


LINKS_DESCRIPTION = "One per configured chat profile and channel that offers a link"


class CreatedAppointment(_Answer):
    id: str = Field(description="The bot's id of the appointment")
    external_ref: ExternalRef
    starts_at: AnswerTime = Field(description="As stored, in city time")
    token: str = Field(description="Single-use deep-link token for the booking confirmation; valid until expires_at "
                       "(at most a day after the appointment)", json_schema_extra={"pattern": f"^{TOKEN_RE.pattern}$"})
    expires_at: AnswerTime
    links: tuple[SerializeAsAny[DeepLink], ...] = Field(description=LINKS_DESCRIPTION)
    created: bool = Field(description="false: the same appointment existed already; the token is a fresh one for it and "
                          "earlier tokens stay valid")
    redeemed: bool = Field(description="A chat has already linked itself to the appointment")


@functools.cache
def created_appointment_model(links: tuple[type[DeepLink], ...]) -> type[CreatedAppointment]:
    """:class:`CreatedAppointment` as documented: each link is one of the registered channels' link models."""
    if not links:
        return CreatedAppointment
    link: Any = links[0] if len(links) == 1 else Annotated[Union[links], Field(discriminator="channel")]  # noqa: UP007 (a runtime tuple of types)
    model: type[CreatedAppointment] = create_model(
        "CreatedAppointment", __base__=CreatedAppointment, __doc__=CreatedAppointment.__doc__,
        links=(tuple[link, ...], Field(description=LINKS_DESCRIPTION)),
    )
    return model


def documented_created_appointment() -> type[CreatedAppointment]:
    return created_appointment_model(link_models())


class CancelledAppointment(_Answer):
    id: str
    external_ref: ExternalRef
    status: Literal["cancelled"] = "cancelled"
    notified: int = Field(ge=0, description="Linked chats that are told of the cancellation (0 when it was cancelled before "
                          "or is already over)")


class CaseStatusResult(_Answer):
    reference: CaseReference
    document: str
    status: str
    changed_at: AnswerTime
    applied: bool = Field(description="false: the known status is newer or the same; nothing changed and the fields show the "
                          "known status")
    notified: int = Field(ge=0, description="Subscribed chats that are told of the change")
    followup_at: AnswerTime | None = Field(description="ready_for_pickup: when subscribers are reminded that the document still "
                                           "waits (10:00 city time)")
