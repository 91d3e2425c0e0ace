"""Typed settings from one TOML file, overridden by BUERGERBOT_* environment variables.

Loading returns errors instead of exiting, so the CLI decides how to report them.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, SettingsError

from bot.core.knowledge import KnowledgeLimits
from bot.core.schedule import QuietHours, parse_offset

DEFAULT_CONFIG = Path("buergerbot.toml")


class MatchingSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    # Off-topic questions are trained to score low, so a low threshold answers more without
    # answering more off-topic ones: 0.30 answered and rejected more of the Musterstadt question
    # sets than 0.35 (docs/measurements.md).
    threshold: float = Field(0.30, ge=0.0, le=1.0)
    ambiguity_gap: float = Field(0.05, ge=0.0, le=1.0)
    # The English sentence encoder's second opinion (bot/semantic): "auto" uses it when its model
    # is installed, "on" refuses to start without it, "off" matches by words alone.
    encoder: Literal["auto", "on", "off"] = "auto"
    # The multilingual sentence encoder (bot/semantic/muse.py) for the questions the words cannot
    # read: other languages and scripts than the knowledge's, and questions whose words give no
    # entry a lead. Same choices; "off" by default, so that a city turns it on knowingly.
    multilingual_encoder: Literal["auto", "on", "off"] = "off"


class TelegramConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    token_env: str = "BUERGERBOT_TELEGRAM_TOKEN"  # name of the environment variable holding the token
    webhook_url: str | None = None  # public https URL; unset = long polling
    webhook_secret_env: str = "BUERGERBOT_TELEGRAM_WEBHOOK_SECRET"
    listen: str = "127.0.0.1"
    port: int = Field(8443, ge=1, le=65535)
    url_path: str = "telegram"
    base_url: str | None = None  # another Bot API server (tests, a local Bot API server)
    username: str | None = None  # the bot's @name without "@", for deep links (t.me/<username>?start=…)
    # Flood limits of this process; 0 lifts one (a local Bot API server, benchmarks). With reminder
    # workers beside the bot, give each a share so that together they stay under Telegram's 30/s.
    overall_per_second: float = Field(30.0, ge=0)
    per_chat_per_second: float = Field(1.0, ge=0)


class MatrixConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    homeserver: str
    user_id: str
    password_env: str | None = "BUERGERBOT_MATRIX_PASSWORD"
    access_token_env: str | None = "BUERGERBOT_MATRIX_ACCESS_TOKEN"
    device_name: str = "Bürgerbot"
    allowed_servers: list[str] = []  # accept invites only from these homeservers (empty: all)
    command_prefix: str = "!bot"
    encryption: bool = True


class RemindersConfig(BaseModel):
    """Appointment, case and waste reminders (see bot/reminders)."""

    model_config = ConfigDict(extra="forbid")
    offsets: list[str] = ["1d", "1h"]  # how long before an appointment: "1d", "2h", "30m"
    office_offsets: dict[str, list[str]] = {}  # office id -> its own offsets
    quiet_hours: tuple[str, str] = ("21:00", "08:00")  # no reminders in between, except for appointments that morning
    case_followup_days: int = Field(7, ge=1, le=365)  # remind again when a document is still waiting to be collected
    waste_dir: Path = Path("faq/waste")  # one iCal file per district: <district-id>.ics
    waste_evening: str = "18:00"  # waste reminders go out at this time the evening before
    poll_seconds: float = Field(5.0, gt=0)  # how often a worker looks for due reminders
    batch_size: int = Field(200, ge=1, le=10_000)  # rows claimed at once
    lease_seconds: int = Field(120, ge=10)  # a claimed row returns to the queue after this
    link_keys_env: str = "BUERGERBOT_LINK_KEYS"  # comma-separated hex keys (>= 32 bytes each), newest first
    link_ttl_days: int = Field(90, ge=1, le=3650)

    @field_validator("offsets")
    @classmethod
    def _offsets(cls, value: list[str]) -> list[str]:
        for offset in value:
            parse_offset(offset)  # InvalidOffset is a ValueError: reported with its dotted path
        return value

    @field_validator("office_offsets")
    @classmethod
    def _office_offsets(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for offsets in value.values():
            cls._offsets(offsets)
        return value

    @field_validator("quiet_hours")
    @classmethod
    def _quiet_hours(cls, value: tuple[str, str]) -> tuple[str, str]:
        QuietHours.parse(*value)  # "HH:MM"; ValueError otherwise
        return value

    @field_validator("waste_evening")
    @classmethod
    def _evening(cls, value: str) -> str:
        dt.time.fromisoformat(value)
        return value


class StaffConfig(BaseModel):
    """Staff reports, and how long the data behind them is kept (deleted hourly by the running bot)."""

    model_config = ConfigDict(extra="forbid")
    unanswered_retention_days: int = Field(90, ge=1, le=36_500)  # questions the bot could not answer
    usage_retention_days: int = Field(400, ge=1, le=36_500)  # usage events (answers, fallbacks, choices)
    review_after_days: int = Field(365, ge=1)  # `report stale`: entries not reviewed for this long


class KnowledgeLimitsConfig(BaseModel):
    """Bounds on the knowledge files (bot.core.knowledge.KnowledgeLimits); what exceeds them is
    refused with its file and line, and the last good knowledge stays live."""

    model_config = ConfigDict(extra="forbid")
    max_file_bytes: int = Field(KnowledgeLimits.max_file_bytes, ge=1024)
    max_entries: int = Field(KnowledgeLimits.max_entries, ge=1)

    def limits(self) -> KnowledgeLimits:
        return KnowledgeLimits(max_file_bytes=self.max_file_bytes, max_entries=self.max_entries)


class BackofficeClient(BaseModel):
    """A city system allowed to use the back-office API, with its own bearer token."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern=r"^[a-z0-9-]+$")
    token_env: str  # environment variable holding the client's bearer token


class HttpConfig(BaseModel):
    """The operations HTTP server of `buergerbot run`: /metrics, /healthz, /readyz (and later APIs)."""

    model_config = ConfigDict(extra="forbid")
    enabled: bool = True
    listen: str = "127.0.0.1"  # "0.0.0.0" in a container, so Prometheus and the health check reach it
    port: int = Field(8080, ge=0, le=65535)  # 0: any free port (tests); the log names the one taken


class WebConfig(BaseModel):
    """The public web chat listener (bot/channels/web), apart from the private operations server;
    it serves every profile with ``web = true``."""

    model_config = ConfigDict(extra="forbid")
    listen: str = "127.0.0.1"  # behind the city's reverse proxy (TLS); "0.0.0.0" in a container
    port: int = Field(8090, ge=0, le=65535)
    allowed_origins: list[str] = []  # pages that may embed the widget ("https://www.musterstadt.de"); empty: any
    messages_per_minute: int = Field(20, ge=1)  # per session
    ip_messages_per_minute: int = Field(120, ge=1)  # per client address (many people may share one)
    max_message_chars: int = Field(1000, ge=10, le=20_000)
    new_sessions_per_minute: int = Field(30, ge=1)  # per client address, so no one pushes the others' sessions out
    # Answers kept per session for a reconnecting or reloaded page, and sessions kept at once (the
    # longest idle goes first): together they bound the memory, about 1 KB an answer.
    outbox_size: int = Field(20, ge=5, le=1000)
    max_sessions: int = Field(10_000, ge=10)
    session_idle_minutes: int = Field(60, ge=1)
    # Take the client address for the per-address limit from the last X-Forwarded-For hop, which
    # the city's reverse proxy appends; without a proxy that sets it, a page could choose its own.
    forwarded_for: bool = False


class DashboardConfig(BaseModel):
    """The staff dashboard at /staff on the operations server (accounts: `buergerbot staff add`)."""

    model_config = ConfigDict(extra="forbid")
    enabled: bool = True  # served whenever the bot keeps its data in a database
    # auto: cookies are Secure when the request came over TLS, directly or as X-Forwarded-Proto: https
    # from a trusted proxy; always: Secure regardless (a proxy that does not send the header).
    secure_cookies: Literal["auto", "always"] = "auto"
    trusted_proxies: list[str] = ["127.0.0.1", "::1"]  # addresses or networks whose X-Forwarded-Proto/-For count
    session_idle_minutes: int = Field(60, ge=1, le=24 * 60)  # signed out after this long without a page view
    session_hours: int = Field(10, ge=1, le=24 * 7)  # and this long after signing in, in any case
    login_attempts: int = Field(5, ge=1, le=100)  # wrong passwords per account name, and 4x this per address, in 15 minutes
    link_check_seconds: int = Field(30, ge=1, le=600)  # the stale page's link check stops after this

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for item in value:
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise ValueError(f"{item!r} is not an IP address or network") from None
        return value


class ProfileConfig(BaseModel):
    """One face of the bot: e.g. the citizens' bot, or the Welcome Center (English first)."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern=r"^[a-z0-9-]+$")
    default_language: str = "de"
    popular: list[str] | None = None
    preferred_tags: list[str] = []
    greeting: dict[str, str] | None = None
    use_client_language: bool = True  # the chat app's language counts until the user chooses one
    telegram: TelegramConfig | None = None
    matrix: MatrixConfig | None = None
    web: bool = False  # answer in the web chat (the [web] listener) as this profile


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="BUERGERBOT_", env_nested_delimiter="__", extra="forbid")

    knowledge_dirs: list[Path] = [Path("faq"), Path("intents")]
    knowledge_limits: KnowledgeLimitsConfig = KnowledgeLimitsConfig()
    languages: list[str] = ["de", "en"]
    default_language: str = "de"
    data_dir: Path = Path("data")
    database_url: str = "sqlite:///data/buergerbot.db"  # PostgreSQL in production: postgresql://user@host/db
    timezone: str = "Europe/Berlin"
    holiday_region: str | None = "NW"  # German state for public holidays (offices closed)
    reload_seconds: float = Field(2.0, gt=0)
    phone_office: str = "buergertelefon"
    popular: list[str] = [
        "termin-buergerbuero", "personalausweis", "wohnsitz-anmelden", "kfz-zulassung", "sperrmuell", "oeffnungszeiten",
    ]
    matching: MatchingSettings = MatchingSettings()
    profiles: list[ProfileConfig] = []
    reminders: RemindersConfig = RemindersConfig()
    staff: StaffConfig = StaffConfig()
    backoffice_clients: list[BackofficeClient] = []
    http: HttpConfig = HttpConfig()
    web: WebConfig = WebConfig()
    dashboard: DashboardConfig = DashboardConfig()
    log_format: Literal["auto", "text", "json"] = "auto"  # auto: text in a terminal, JSON lines otherwise
    # Where the processes share each Telegram token's flood budget: Redis when set (redis://host:6379/0),
    # else the database when it is PostgreSQL, else each process counts alone (SQLite: one process).
    redis_url: str | None = None
    log_pseudonym_key_env: str = "BUERGERBOT_LOG_PSEUDONYM_KEY"  # key for chat pseudonyms in logs (random per process if unset)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (an IANA name such as Europe/Berlin)") from None
        return value

    @field_validator("holiday_region")
    @classmethod
    def _known_region(cls, value: str | None) -> str | None:
        states = holidays.list_supported_countries()["DE"]
        if value and value not in states:
            raise ValueError(f"unknown German state {value!r} (one of {', '.join(states)}; empty for no holidays)")
        return value

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        from sqlalchemy.engine import make_url  # only here: importing SQLAlchemy costs start-up time
        from sqlalchemy.exc import ArgumentError

        try:
            make_url(value)
        except ArgumentError:
            raise ValueError("not a database URL (sqlite:///path/bot.db or postgresql://user@host/db)") from None
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Settings:
        problems = [
            f"{where}: {lang!r} is not one of languages {self.languages}"
            for where, lang in [("default_language", self.default_language), *((f"profile {p.name}: default_language", p.default_language) for p in self.profiles)]
            if lang not in self.languages
        ]
        if any(p.web for p in self.profiles) and self.http.enabled and self.web.port == self.http.port != 0:
            problems.append(f"web.port: {self.web.port} is the operations server's port (http.port); the public chat needs its own")
        for what, names in (("profile", [p.name for p in self.profiles]), ("back-office client", [c.name for c in self.backoffice_clients])):
            twice = sorted({n for n in names if names.count(n) > 1})
            if twice:
                problems.append(f"{what} names must be unique: {', '.join(twice)} more than once")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Environment first: operators override the file without editing it.
        return env_settings, init_settings, file_secret_settings


def load_settings(path: Path | None = None) -> tuple[Settings | None, list[str]]:
    """Settings from ``path`` (or buergerbot.toml / $BUERGERBOT_CONFIG if present) and the environment."""
    named = path or os.environ.get("BUERGERBOT_CONFIG")
    path = Path(named or DEFAULT_CONFIG)
    if named and not path.is_file():
        return None, [f"{path}: no such file"]
    data: dict[str, Any] = {}
    if path.exists():
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            return None, [f"{path}: {exc}"]
    try:
        return Settings(**data), []
    except ValidationError as exc:
        return None, [f"{path}: {_error_text(e)}" for e in exc.errors()]
    except SettingsError as exc:  # a BUERGERBOT_* variable that cannot be read (a list that is not JSON)
        return None, [f"environment: {exc.__cause__ or exc}"]


def _error_text(error: Any) -> str:
    """``dotted.path: message`` for one pydantic error (list positions as numbers: profiles.0.name)."""
    where = ".".join(str(p) for p in error["loc"])
    message = "unknown key (check the spelling)" if error["type"] == "extra_forbidden" else str(error["msg"]).removeprefix("Value error, ")
    return f"{where}: {message}" if where else message


def city_clock(settings: Settings) -> Callable[[], dt.datetime]:
    """The current time in the city's time zone."""
    zone = ZoneInfo(settings.timezone)
    return lambda: dt.datetime.now(zone)
