"""The container health check asks /healthz of a running server."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest

from bot.ops import healthcheck
from bot.ops.metrics import Metrics
from bot.web.server import HttpServer, create_app
from tests.fakes.aio import free_port


def check_in_process_and_as_module(monkeypatch: pytest.MonkeyPatch, port: int) -> tuple[int, int]:
    monkeypatch.setenv("BUERGERBOT_HTTP__PORT", str(port))
    in_process = healthcheck.main()
    module = subprocess.run([sys.executable, "-m", "bot.ops.healthcheck"], capture_output=True, text=True, timeout=60)
    return in_process, module.returncode


def test_healthy_while_the_server_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    async def main() -> tuple[int, int]:
        server = HttpServer(create_app(Metrics(), {}), "127.0.0.1", 0)
        await server.start()
        try:
            return await asyncio.to_thread(check_in_process_and_as_module, monkeypatch, server.port)
        finally:
            await server.stop()

    assert asyncio.run(main()) == (0, 0)


def test_unhealthy_without_a_server(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("BUERGERBOT_HTTP__PORT", str(free_port()))
    assert healthcheck.main() == 1
    assert "unhealthy:" in capsys.readouterr().err


def test_nothing_to_ask_when_http_is_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BUERGERBOT_HTTP__ENABLED", "false")
    monkeypatch.setenv("BUERGERBOT_HTTP__PORT", str(free_port()))
    assert healthcheck.main() == 0


def test_the_module_imports_no_heavy_libraries() -> None:
    code = "import sys, bot.ops.healthcheck; print(sorted(m for m in ('telegram', 'nio', 'numpy', 'sqlalchemy', 'aiohttp') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True).stdout
    assert out.strip() == "[]"


def test_the_config_file_can_switch_the_server_off(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = tmp_path / "bot.toml"
    config.write_text(f"[http]\nenabled = false\nport = {free_port()}\n", encoding="utf-8")
    monkeypatch.setenv("BUERGERBOT_CONFIG", str(config))
    monkeypatch.delenv("BUERGERBOT_HTTP__ENABLED", raising=False)
    monkeypatch.delenv("BUERGERBOT_HTTP__PORT", raising=False)
    assert healthcheck.main() == 0


def test_the_port_comes_from_the_config_file_unless_the_environment_sets_it(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("BUERGERBOT_HTTP__ENABLED", raising=False)
    monkeypatch.delenv("BUERGERBOT_HTTP__PORT", raising=False)

    async def main() -> tuple[int, int]:
        server = HttpServer(create_app(Metrics(), {}), "127.0.0.1", 0)
        await server.start()
        try:
            config = tmp_path / "bot.toml"
            config.write_text(f"[http]\nport = {server.port}\n", encoding="utf-8")
            monkeypatch.setenv("BUERGERBOT_CONFIG", str(config))
            from_file = await asyncio.to_thread(healthcheck.main)
            monkeypatch.setenv("BUERGERBOT_HTTP__PORT", str(free_port()))  # the environment wins, as for the bot
            from_environment = await asyncio.to_thread(healthcheck.main)
            return from_file, from_environment
        finally:
            await server.stop()

    assert asyncio.run(main()) == (0, 1)
