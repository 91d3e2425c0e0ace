"""The container's health check: exit 0 when the bot's /healthz answers 200.

``python -m bot.ops.healthcheck`` imports only the standard library (no chat or matching code),
so Docker's periodic check costs little more than starting the interpreter. It reads the port
from BUERGERBOT_HTTP__PORT (the Dockerfile sets it) and always asks 127.0.0.1, inside the container.
"""

from __future__ import annotations

import os
import sys
import urllib.request

OFF = {"0", "false", "no", "off"}


def main() -> int:
    if os.environ.get("BUERGERBOT_HTTP__ENABLED", "true").strip().lower() in OFF:
        return 0  # no HTTP server to ask: that the process runs is all there is to know
    port = os.environ.get("BUERGERBOT_HTTP__PORT", "8080").strip()
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as resp:
            return 0 if resp.status == 200 else 1
    except (OSError, ValueError) as exc:
        print(f"unhealthy: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
