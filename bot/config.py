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
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, SettingsError

from bot import demo
from bot.channels.registry import channel_kind
from bot.core.knowledge import KnowledgeLimits
from bot.core.schedule import QuietHours, ReminderPolicy, parse_offset

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


def _clock_time(value: object) -> object:
    """ "21:00" (or a TOML time) -> a time of day; a number is refused, never read as seconds."""
    if isinstance(value, str):
        return dt.time.fromisoformat(value.strip())  # ValueError: reported with its dotted path
    if isinstance(value, dt.time):
        return value
    raise ValueError(f"not a time of day like 21:00: {value!r}")


def _offset(value: str) -> str:
    parse_offset(value)  # InvalidOffset is a ValueError: reported with its dotted path
    return value


ClockTime = Annotated[dt.time, BeforeValidator(_clock_time), PlainSerializer(lambda t: t.isoformat("minutes"), when_used="json")]
Offset = Annotated[str, AfterValidator(_offset)]  # "1d", "2h", "30m"


class RemindersConfig(BaseModel):
    """Appointment, case and waste reminders (see bot/reminders); the timing rules become the one
    ReminderPolicy (Settings.reminder_policy), whose defaults are these."""

    model_config = ConfigDict(extra="forbid")
    offsets: list[Offset] = list(ReminderPolicy.offsets)  # how long before an appointment: "1d", "2h", "30m"
    office_offsets: dict[str, list[Offset]] = {}  # office id -> its own offsets
    # No reminders in between, except for appointments that morning.
    quiet_hours: tuple[ClockTime, ClockTime] = (ReminderPolicy.quiet.start, ReminderPolicy.quiet.end)
    case_followup_days: int = Field(7, ge=1, le=365)  # remind again when a document is still waiting to be collected
    waste_dir: Path = Path("faq/waste")  # one iCal file per district: <district-id>.ics
    waste_evening: ClockTime = ReminderPolicy.waste_evening  # waste reminders go out at this time the evening before
    poll_seconds: float = Field(5.0, gt=0)  # how often a worker looks for due reminders
    batch_size: int = Field(200, ge=1, le=10_000)  # rows claimed at once
    lease_seconds: int = Field(120, ge=10)  # a claimed row returns to the queue after this
    link_keys_env: str = "BUERGERBOT_LINK_KEYS"  # comma-separated hex keys (>= 32 bytes each), newest first
    link_ttl_days: int = Field(90, ge=1, le=3650)


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


def _check_networks(value: list[str]) -> list[str]:
    for item in value:
        try:
            ipaddress.ip_network(item, strict=False)
        except ValueError:
            raise ValueError(f"{item!r} is not an IP address or network") from None
    return value


class ProxyAuthConfig(BaseModel):
    """Signing in to the dashboard through the city's reverse proxy (single sign-on): the proxy
    authenticates the person and names them in a header, which counts only on requests from the
    proxy's own addresses. The role comes from the lists below, by user name or by a group the
    proxy names (``group:<name>``); a person on neither list is refused."""

    model_config = ConfigDict(extra="forbid")
    enabled: bool = False
    proxies: list[str] = []  # addresses or networks of the proxy that sets the headers; nobody else may
    user_header: str = Field("X-Forwarded-User", pattern=r"^[A-Za-z0-9-]{1,64}$")
    groups_header: str = Field("X-Forwarded-Groups", pattern=r"^[A-Za-z0-9-]{0,64}$")  # comma-separated groups; "" for none
    editors: list[str] = []  # user names, or "group:<name>"
    viewers: list[str] = []

    @field_validator("proxies")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for item in _check_networks(value):
            if ipaddress.ip_network(item, strict=False).prefixlen == 0:
                raise ValueError(f"{item!r} is every address: name the proxy's own addresses")
        return value

    @model_validator(mode="after")
    def _complete(self) -> ProxyAuthConfig:
        if self.enabled and not self.proxies:
            raise ValueError("proxy_auth needs the proxy's addresses in proxies: anybody else could name any user")
        if self.enabled and not (self.editors or self.viewers):
            raise ValueError("proxy_auth needs editors or viewers: nobody would get a role")
        return self


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
    proxy_auth: ProxyAuthConfig = Field(default_factory=ProxyAuthConfig)

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        return _check_networks(value)


class HandoverAccount(BaseModel):
    """The bot's Matrix account in the staff rooms (bot/handover): its own login and device, apart
    from any profile's chat account, so that a city may run the staff side on its own homeserver."""

    model_config = ConfigDict(extra="forbid")
    homeserver: str
    user_id: str
    password_env: str | None = "BUERGERBOT_HANDOVER_MATRIX_PASSWORD"
    access_token_env: str | None = "BUERGERBOT_HANDOVER_MATRIX_ACCESS_TOKEN"
    device_name: str = "Bürgerbot Übergabe"
    encryption: bool = True  # the staff rooms are end-to-end encrypted


class HandoverConfig(BaseModel):
    """A person from the service team answering in the citizen's chat (bot/handover)."""

    model_config = ConfigDict(extra="forbid")
    matrix: HandoverAccount | None = None  # unset: no hand-over anywhere
    # A hand-over a team member has answered closes after this long without a message either side.
    idle_minutes: int = Field(30, ge=1, le=7 * 24 * 60)
    # One nobody answered closes after this long (a queued question waits across a night or weekend).
    wait_hours: int = Field(72, ge=1, le=30 * 24)
    retention_days: int = Field(30, ge=1, le=3650)  # a closed hand-over and its messages are deleted after this
    last_turns: int = Field(3, ge=0, le=10)  # messages of the conversation before the offer shown to the team
    drafts_dir: Path = Path("faq-drafts")  # `!faq` in a closed thread writes a draft entry here
    staff_language: str = "de"  # the language of the bot's lines in the staff rooms


class ProfileHandover(BaseModel):
    """Where one profile's hand-overs go: a staff room, and the office whose hours the team keeps."""

    model_config = ConfigDict(extra="forbid")
    staff_room: str  # room id (!abc:server) of the staff room; the bot's account must be in it
    office: str = "buergertelefon"  # office id in offices.yaml: the team's hours


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
    handover: ProfileHandover | None = None  # hand-over to a person of the service team

    # The sections of channels registered beyond the built-in ones (bot.channels.registry), by
    # channel name; written in the file as the others are: [profiles.<channel>].
    channels: dict[str, Any] = {}

    @model_validator(mode="before")
    @classmethod
    def _registered_sections(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        known = set(cls.model_fields)
        sections = {key: data[key] for key in data if key not in known and (kind := channel_kind(key)) is not None and kind.config_model is not None}
        if not sections:
            return data
        rest = {key: value for key, value in data.items() if key not in sections}
        return {**rest, "channels": {**dict(data.get("channels") or {}), **sections}}

    @field_validator("channels")
    @classmethod
    def _channel_sections(cls, value: dict[str, Any]) -> dict[str, Any]:
        checked: dict[str, Any] = {}
        for name, section in value.items():
            kind = channel_kind(name)
            if kind is None:
                raise ValueError(f"no channel {name!r} is registered")
            try:
                checked[name] = kind.config_model.model_validate(section) if kind.config_model is not None else section
            except ValidationError as exc:  # named from the channel on: the file has no "channels" table
                raise ValueError("; ".join(f"{'.'.join(map(str, (name, *e['loc'])))}: {_message(e)}" for e in exc.errors())) from None
        return checked


class LocalesConfig(BaseModel):
    """The city's message catalogues (bot/core/texts.py): ``<language>.yaml`` files of ``key: text``
    lines, read after the shipped German and English ones, so that a file adds a language or
    changes a sentence; `buergerbot faq validate` reports their problems."""

    model_config = ConfigDict(extra="forbid")
    dirs: list[Path] = [Path("locales")]  # a folder that is not there holds no catalogues
    # language -> the languages asked, in order, for a text its catalogue lacks; unnamed: en, then de
    fallbacks: dict[str, list[str]] = {}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="BUERGERBOT_", env_nested_delimiter="__", extra="forbid")

    # Everything that names one city (its name, holidays, menu topics, the phone office) is neutral
    # here; the demo city's values are in bot/demo/buergerbot.toml, used when there is no config file.
    city_name: str = ""  # shown where the bot introduces itself (the console)
    knowledge_dirs: list[Path] = [Path("faq"), Path("intents")]
    knowledge_limits: KnowledgeLimitsConfig = KnowledgeLimitsConfig()
    languages: list[str] = ["de", "en"]
    locales: LocalesConfig = LocalesConfig()
    default_language: str = "de"
    data_dir: Path = Path("data")
    database_url: str = "sqlite:///data/buergerbot.db"  # PostgreSQL in production: postgresql://user@host/db
    timezone: str = "Europe/Berlin"
    # Public holidays close the offices: the country's ISO code and a subdivision as the holidays
    # package names them (DE and NW: North Rhine-Westphalia); no country, no holidays.
    holiday_country: str | None = None
    holiday_region: str | None = None
    reload_seconds: float = Field(2.0, gt=0)
    phone_office: str = ""  # office whose phone number the fallback answer names; empty: none
    popular: list[str] = []  # entry ids for the topics menu (/start, "help")
    matching: MatchingSettings = MatchingSettings()
    profiles: list[ProfileConfig] = []
    reminders: RemindersConfig = RemindersConfig()
    staff: StaffConfig = StaffConfig()
    backoffice_clients: list[BackofficeClient] = []
    http: HttpConfig = HttpConfig()
    web: WebConfig = WebConfig()
    dashboard: DashboardConfig = DashboardConfig()
    handover: HandoverConfig = HandoverConfig()
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

    @field_validator("holiday_country")
    @classmethod
    def _known_country(cls, value: str | None) -> str | None:
        if value and value not in holidays.list_supported_countries():
            raise ValueError(f"no public holidays known for {value!r} (an ISO 3166 country code such as DE or AT; empty for no holidays)")
        return value

    @field_validator("holiday_region")
    @classmethod
    def _known_region(cls, value: str | None, info: ValidationInfo) -> str | None:
        if not value:
            return value
        country = info.data.get("holiday_country")
        if not country:
            raise ValueError("needs holiday_country, the country it belongs to")
        regions = holidays.list_supported_countries()[country]
        if value not in regions:
            raise ValueError(f"unknown subdivision {value!r} of {country} (one of {', '.join(regions)}; empty for the whole country)")
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

    def reminder_policy(self) -> ReminderPolicy:
        """The reminder rules the dialogue, the reminder book and the worker share."""
        r = self.reminders
        return ReminderPolicy(
            zone=ZoneInfo(self.timezone),
            offsets=tuple(r.offsets),
            office_offsets={office: tuple(offsets) for office, offsets in r.office_offsets.items()},
            quiet=QuietHours(*r.quiet_hours),
            waste_evening=r.waste_evening,
        )

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
    """Settings from ``path`` (or buergerbot.toml / $BUERGERBOT_CONFIG if present) and the environment.

    Without a config file the bot is the demo city: bot/demo/buergerbot.toml, and where the
    knowledge folders are not in the working directory either, the demo knowledge shipped with the
    package (``buergerbot run`` from an empty folder answers; bot.demo.uses_demo_knowledge tells the
    commands to say so). A config file of the city's own never falls back to the demo.
    """
    named = path or os.environ.get("BUERGERBOT_CONFIG")
    path = Path(named or DEFAULT_CONFIG)
    if named and not path.is_file():
        return None, [f"{path}: no such file"]
    is_demo = not path.exists()
    if is_demo:
        path = demo.SETTINGS_FILE
    data: dict[str, Any] = {}
    if path.exists():
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            return None, [f"{path}: {exc}"]
    try:
        settings = Settings(**data)
    except ValidationError as exc:
        return None, [f"{path}: {_error_text(e)}" for e in exc.errors()]
    except SettingsError as exc:  # a BUERGERBOT_* variable that cannot be read (a list that is not JSON)
        return None, [f"environment: {exc.__cause__ or exc}"]
    return (_with_demo_knowledge(settings) if is_demo else settings), []


def _with_demo_knowledge(settings: Settings) -> Settings:
    """The demo knowledge (and its waste calendars) in place of knowledge folders that are not here."""
    shipped = demo.demo_knowledge()
    if shipped is None or any(folder.is_dir() for folder in settings.knowledge_dirs):
        return settings
    reminders = settings.reminders
    if not reminders.waste_dir.is_dir() and (shipped[0] / "waste").is_dir():
        reminders = reminders.model_copy(update={"waste_dir": shipped[0] / "waste"})
    return settings.model_copy(update={"knowledge_dirs": shipped, "reminders": reminders})


def _error_text(error: Any) -> str:
    """``dotted.path: message`` for one pydantic error (list positions as numbers: profiles.0.name)."""
    where = ".".join(str(p) for p in error["loc"])
    return f"{where}: {_message(error)}" if where else _message(error)


def _message(error: Any) -> str:
    return "unknown key (check the spelling)" if error["type"] == "extra_forbidden" else str(error["msg"]).removeprefix("Value error, ")


def city_clock(settings: Settings) -> Callable[[], dt.datetime]:
    """The current time in the city's time zone."""
    zone = ZoneInfo(settings.timezone)
    return lambda: dt.datetime.now(zone)
