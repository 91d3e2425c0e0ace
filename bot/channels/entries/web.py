"""The web chat: one public listener (the [web] settings) for every profile with ``web = true``."""

from __future__ import annotations

from collections.abc import Sequence

from bot.channels.registry import Channel, ChannelKind, Wanted


class WebKind(ChannelKind):
    """A web session lasts as long as its browser tab, so nothing could ever deliver a reminder to
    it: ``delivers_reminders`` is off, and its dialogue says reminders are not available here."""

    name = "web"

    def build(self, wanted: Wanted) -> Sequence[Channel]:
        return self.build_all([wanted])

    def build_all(self, wanted: Sequence[Wanted]) -> list[Channel]:
        from bot.channels.web.channel import build_web_channel

        if not wanted:
            return []
        handles = {one.profile.name: one.context.handle for one in wanted if one.profile is not None}
        return [build_web_channel(wanted[0].context.settings, handles)]


CHANNEL = WebKind()
