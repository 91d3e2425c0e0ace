"""Matrix as a registry entry: a profile's ``[profiles.matrix]`` section, its password or access
token, the ``!link`` deep link, and the adapter (bot.channels.matrix) built for a profile.

`buergerbot worker` delivers no Matrix reminders: an encrypted room needs the keys of the session
that syncs the account, so they go out from `buergerbot run`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from pydantic import Field

from bot.channels.registry import Channel, ChannelKind, DeepLink, Wanted
from bot.config import MatrixConfig, ProfileConfig
from bot.credentials import MissingSecret, secret


@dataclass(frozen=True)
class MatrixSecrets:
    password: str | None
    access_token: str | None  # at least one of the two is set


def matrix_secrets(profile: ProfileConfig, section: MatrixConfig) -> MatrixSecrets:
    password, token = secret(section.password_env), secret(section.access_token_env)
    if not password and not token:
        names = " or ".join(n for n in (section.password_env, section.access_token_env) if n) or "password_env or access_token_env in the config"
        raise MissingSecret(f"profile {profile.name}: matrix password or access token missing (set {names})")
    return MatrixSecrets(password, token)


class MatrixLink(DeepLink):
    channel: Literal["matrix"] = "matrix"
    user_id: str = Field(description="The bot's Matrix id to write to")
    command: str = Field(description="`!link <token>`: sending it to the bot links the room")

    def instruction(self) -> str:
        return self.command


class MatrixKind(ChannelKind):
    name = "matrix"
    config_model = MatrixConfig
    delivers_reminders = True
    link_model = MatrixLink

    def secret_names(self, profile: ProfileConfig, section: MatrixConfig) -> Sequence[str]:
        return [name for name in (section.password_env, section.access_token_env) if name]

    def read_secrets(self, profile: ProfileConfig, section: MatrixConfig) -> MatrixSecrets:
        return matrix_secrets(profile, section)

    def deep_link(self, profile: ProfileConfig, section: MatrixConfig, token: str) -> DeepLink | None:
        return MatrixLink(profile=profile.name, user_id=section.user_id, command=f"!link {token}")

    def build(self, wanted: Wanted) -> Sequence[Channel]:
        from bot.channels.matrix import MatrixChannel, MatrixSettings

        profile, section, settings = wanted.profile, wanted.section, wanted.context.settings
        assert profile is not None
        secrets = matrix_secrets(profile, section)
        return [MatrixChannel(
            MatrixSettings(homeserver=section.homeserver, user_id=section.user_id, store_dir=settings.data_dir / "matrix" / profile.name,
                           password=secrets.password, access_token=secrets.access_token, device_name=section.device_name,
                           profile=profile.name, allowed_servers=tuple(section.allowed_servers), command_prefix=section.command_prefix,
                           encryption=section.encryption),
            wanted.context.handle,
        )]


CHANNEL = MatrixKind()
