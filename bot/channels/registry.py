"""The chat channels the bot knows: each is one module that declares a :class:`ChannelKind`.

A kind says everything the rest of the bot needs to know about a channel, so nothing else names
it: its name (the ``channel`` of its chats and of its reminder rows), the model of its section in
a profile (``[profiles.<name>]``), the secrets it reads, the deep link that opens a chat with it
(back-office appointments), and how it is built for a profile. The runtime, the credentials, the
config check, the metrics, the reminder worker and the back-office ask this registry.

The built-in kinds (console, Telegram, Matrix, web chat) live in bot/channels/entries/ and are
loaded by name on first use; their modules import the chat libraries only when a channel is
built, so asking about a channel costs nothing. Another channel registers itself with
:func:`register` from its own module. Rasa's InputChannel and maubot's plugin manifest served as
models: a declaration, and a factory that builds the adapter.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:  # the registry is read while the settings load: it imports none of the bot at run time

    from bot.config import ProfileConfig, Settings
    from bot.core.models import Incoming, Reply
    from bot.ops.metrics import Metrics
    from bot.storage.stores import Storage

BUILT_IN = ("bot.channels.entries.console", "bot.channels.entries.telegram", "bot.channels.entries.matrix", "bot.channels.entries.web")

Handle = Callable[["Incoming"], Sequence["Reply"]]


class DeepLink(BaseModel):
    """What opens a chat with one profile and hands it a booking token, in the back-office's answer
    to a new appointment. Each channel that offers one subclasses it with a ``channel`` literal and
    its own fields; the OpenAPI document is generated from those models."""

    model_config = ConfigDict(frozen=True, json_schema_serialization_defaults_required=True)

    channel: str
    profile: str

    def instruction(self) -> str:
        """What the citizen does with the link, as one line (the appointment import prints it)."""
        raise NotImplementedError


class Channel(Protocol):
    """A running channel, as the runtime starts and stops it."""

    async def start(self) -> None: ...
    async def stop(self) -> None: ...


@dataclass(frozen=True)
class ChannelContext:
    """What a channel is built from, besides its profile's section."""

    settings: Settings
    handle: Handle  # the profile's dialogue, counted in the metrics
    storage: Storage
    metrics: Metrics
    request_stop: Callable[[], object] = lambda: None  # ends the bot as SIGTERM would (the console's Ctrl-D)


@dataclass(frozen=True)
class Wanted:
    """One profile that uses a channel, with what to build it from."""

    profile: ProfileConfig | None  # None only for a fallback channel built without profiles
    section: Any
    context: ChannelContext


class ChannelKind:
    """One kind of chat channel. Subclasses set the class attributes and override what applies."""

    name: ClassVar[str]
    # The model of the profile's section of this channel; None: the channel has none (the console).
    config_model: ClassVar[type[BaseModel] | None] = None
    # Its chats keep appointments and get reminders: its dialogue has the reminder book, its
    # reminder series are in the metrics, and booking links need the link keys.
    delivers_reminders: ClassVar[bool] = False
    # Built when no profile configures any channel (the console in a terminal).
    fallback: ClassVar[bool] = False
    # The model of what :meth:`deep_link` returns (documented in the back-office API's OpenAPI document).
    link_model: ClassVar[type[DeepLink] | None] = None

    def section(self, profile: ProfileConfig) -> Any:
        """The profile's configuration of this channel; None (or False) when the profile does not use it."""
        if self.name in type(profile).model_fields:
            return getattr(profile, self.name)
        return profile.channels.get(self.name)

    def secret_names(self, profile: ProfileConfig, section: Any) -> Sequence[str]:
        """The environment variables (or their ``_FILE``) this channel reads secrets from."""
        return ()

    def read_secrets(self, profile: ProfileConfig, section: Any) -> object:
        """Read (and so register for log scrubbing) this channel's secrets; raises MissingSecret
        (bot.credentials) for one that is needed and unset. By default every named secret is needed."""
        from bot.credentials import MissingSecret, secret

        values = {}
        for name in self.secret_names(profile, section):
            value = secret(name)
            if not value:
                raise MissingSecret(f"profile {profile.name}: {self.name} secret missing (set {name})")
            values[name] = value
        return values

    def deep_link(self, profile: ProfileConfig, section: Any, token: str) -> DeepLink | None:
        """What opens a chat with this profile and hands it ``token`` (a booking link); None: no link."""
        return None

    def prepare(self, settings: Settings, storage: Storage) -> None:
        """Called once before the first channel of this kind is built (shared budgets, …)."""

    def build(self, wanted: Wanted) -> Sequence[Channel]:
        """This kind's channels for one profile."""
        raise NotImplementedError(f"channel {self.name} builds no chat channel")

    def build_all(self, wanted: Sequence[Wanted]) -> list[Channel]:
        """This kind's channels for every profile that uses it; a kind with one listener for all
        profiles (the web chat) overrides this."""
        return [channel for one in wanted for channel in self.build(one)]

    def delivery_only(self, wanted: Wanted) -> Sequence[Channel]:
        """Channels that only deliver reminders (``buergerbot worker``); none where delivering
        needs the state of the process that answers the chats (Matrix's room keys)."""
        return ()


@dataclass
class _Registry:
    kinds: dict[str, ChannelKind] = field(default_factory=dict)
    loaded: bool = False


_registry = _Registry()


def register(kind: ChannelKind) -> ChannelKind:
    """Make ``kind`` known to the bot (replacing one of the same name); returns it."""
    if not kind.name or not kind.name.replace("-", "").replace("_", "").isalnum() or not kind.name.islower():
        raise ValueError(f"channel name {kind.name!r}: lower-case letters, digits, '-' or '_'")
    _registry.kinds[kind.name] = kind
    return kind


def unregister(name: str) -> None:
    """Forget the channel ``name`` (tests that registered one of their own)."""
    _registry.kinds.pop(name, None)


def channel_kinds() -> list[ChannelKind]:
    """Every known channel kind, the built-in ones first."""
    if not _registry.loaded:
        _registry.loaded = True
        built_in = {kind.name: kind for kind in (importlib.import_module(module).CHANNEL for module in BUILT_IN)}
        _registry.kinds = {**built_in, **_registry.kinds}  # a kind registered earlier replaces the built-in one
    return list(_registry.kinds.values())


def channel_kind(name: str) -> ChannelKind | None:
    return next((kind for kind in channel_kinds() if kind.name == name), None)


def used_by(profile: ProfileConfig) -> Iterator[tuple[ChannelKind, Any]]:
    """The channel kinds ``profile`` configures, each with its section."""
    for kind in channel_kinds():
        section = kind.section(profile)
        if section:
            yield kind, section


def deep_links(settings: Settings, token: str) -> list[DeepLink]:
    """One link per profile and channel that offers one: the booking confirmation's links."""
    links = []
    for profile in settings.profiles:
        for kind, section in used_by(profile):
            link = kind.deep_link(profile, section, token)
            if link is not None:
                links.append(link)
    return links


def link_models() -> tuple[type[DeepLink], ...]:
    """The deep-link models of the registered channels, for the OpenAPI document."""
    return tuple(kind.link_model for kind in channel_kinds() if kind.link_model is not None)
