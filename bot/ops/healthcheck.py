"""The container's health check: exit 0 when the bot's /healthz answers 200.

``python -m bot.ops.healthcheck`` imports only the standard library (no chat or matching code),
so Docker's periodic check costs little more than starting the interpreter. It finds the
operations server as the bot does: ``BUERGERBOT_HTTP__ENABLED``/``BUERGERBOT_HTTP__PORT`` first
(the Dockerfile sets the port), then ``[http]`` of the config file ($BUERGERBOT_CONFIG or
buergerbot.toml), and always asks 127.0.0.1, inside the container.
"""

from __future__ import annotations

import os
import sys
import tomllib
import urllib.request
from pathlib import Path
from typing import Any

OFF = {"0", "false", "no", "off"}


def _file_http() -> dict[str, Any]:
    """``[http]`` of the config file; nothing when there is none or it cannot be read (the bot
    itself refuses to start then, and the check fails on the port it cannot reach)."""
    path = Path(os.environ.get("BUERGERBOT_CONFIG") or "buergerbot.toml")
    try:
        http = tomllib.loads(path.read_text(encoding="utf-8")).get("http")
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
        return {}
    return http if isinstance(http, dict) else {}


def main() -> int:
    http = _file_http()
    enabled = os.environ.get("BUERGERBOT_HTTP__ENABLED", str(http.get("enabled", True)))
    if enabled.strip().lower() in OFF:
        return 0  # no HTTP server to ask: that the process runs is all there is to know
    port = os.environ.get("BUERGERBOT_HTTP__PORT", str(http.get("port", 8080))).strip()
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as resp:
            return 0 if resp.status == 200 else 1
    except (OSError, ValueError) as exc:
        print(f"unhealthy: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
