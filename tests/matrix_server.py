"""A real Synapse homeserver on 127.0.0.1 for tests that talk Matrix with a real client.

Usage::

    server = SynapseServer(tmp_path)          # relaxed rate limits
    server.start()                            # blocks until /_matrix/client/versions answers
    user_id, token = server.register("alice", "secret")
    ...
    server.stop()

The server uses SQLite in ``tmp_dir``, has no federation, no public registration and no TLS.
With ``rate_limited=False`` every ``rc_*`` limit is raised so far that tests never see a 429;
with ``rate_limited=True`` Synapse's defaults apply (about ten quick messages, then
``M_LIMIT_EXCEEDED``). Synapse's own log (WARNING and up) goes to ``tmp_dir/homeserver.log``,
its stdout/stderr to ``tmp_dir/synapse.out``; :meth:`SynapseServer.log_tail` shows both, and
every error this module raises about a dead server carries that tail.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import hashlib
import hmac
import importlib.util
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import TracebackType
from typing import Any

import yaml

from tests.fakes.aio import reap_tasks

SERVER_NAME = "localhost"

# Far above anything a test does; Synapse stores burst_count as int.
_RELAXED = {"per_second": 10000, "burst_count": 100000}

# Every rate limiter `synapse/config/ratelimiting.py` (Synapse 1.163) reads from the config.
# Unknown keys are ignored by Synapse, so older or newer versions start all the same.
RELAXED_RATE_LIMITS: dict[str, Any] = {
    "rc_message": _RELAXED,
    "rc_registration": _RELAXED,
    "rc_registration_token_validity": _RELAXED,
    "rc_login": {"address": _RELAXED, "account": _RELAXED, "failed_attempts": _RELAXED},
    "rc_admin_redaction": _RELAXED,
    "rc_joins": {"local": _RELAXED, "remote": _RELAXED},
    "rc_joins_per_room": _RELAXED,
    "rc_key_requests": _RELAXED,
    "rc_3pid_validation": _RELAXED,
    "rc_invites": {"per_room": _RELAXED, "per_user": _RELAXED, "per_issuer": _RELAXED},
    "rc_third_party_invite": _RELAXED,
    "rc_media_create": _RELAXED,
    "rc_presence": {"per_user": _RELAXED},
    "rc_delayed_event_mgmt": _RELAXED,
    "rc_room_creation": _RELAXED,
    "rc_reports": _RELAXED,
    "rc_user_directory": _RELAXED,
    "rc_profile": _RELAXED,
}

_LOG_TAIL_LINES = 40
_PORT_RETRIES = 3


class SynapseServerError(RuntimeError):
    """Synapse did not start, died, or answered a harness request with an error."""


def synapse_available() -> bool:
    """Whether the ``synapse`` package is installed for this interpreter (the one that runs the server).

    Looks the package up without importing it: ``import synapse`` would pull Twisted and PIL into
    the test process. A package that is found but broken makes :meth:`SynapseServer.start` fail
    with Synapse's own traceback instead.
    """
    return importlib.util.find_spec("synapse") is not None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _parent_death_signal() -> Callable[[], None] | None:
    """A preexec_fn that lets the kernel SIGTERM Synapse if the test process dies without stop().

    Linux only. ctypes is loaded here, in the parent: the child must not import between fork and exec.
    """
    if sys.platform != "linux":
        return None
    try:
        import ctypes

        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (ImportError, OSError, AttributeError):
        return None
    pr_set_pdeathsig = 1

    def preexec() -> None:  # pragma: no cover - runs in the child between fork and exec
        prctl(pr_set_pdeathsig, signal.SIGTERM)

    return preexec


def _write_signing_key(path: Path) -> None:
    """An ed25519 signing key in Synapse's file format ("ed25519 <key id> <unpadded base64 seed>")."""
    try:
        from signedjson.key import generate_signing_key, write_signing_keys
    except ImportError:  # signedjson ships with Synapse; this is only a fallback
        import base64

        seed = base64.b64encode(secrets.token_bytes(32)).decode().rstrip("=")
        path.write_text(f"ed25519 a_test {seed}\n", encoding="utf-8")
        return
    with path.open("w", encoding="utf-8") as fh:
        write_signing_keys(fh, [generate_signing_key("a_test")])


class SynapseServer:
    """One Synapse process with its config, SQLite database, media store and logs in ``tmp_dir``."""

    server_name = SERVER_NAME

    def __init__(self, tmp_dir: str | os.PathLike[str], rate_limited: bool = False, *, startup_timeout: float = 60.0) -> None:
        self.dir = Path(tmp_dir)
        self.rate_limited = rate_limited
        self.startup_timeout = startup_timeout
        self.registration_shared_secret = secrets.token_hex(16)
        self.port = 0
        self.config_path = self.dir / "homeserver.yaml"
        self.log_path = self.dir / "homeserver.log"
        self.output_path = self.dir / "synapse.out"
        self.startup_seconds: float | None = None
        self._process: subprocess.Popen[bytes] | None = None

    # --- life cycle -------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def is_running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> None:
        """Write the config, start Synapse and block until the client API answers.

        Raises :class:`SynapseServerError` (with the log tail) if Synapse exits or does not
        answer within ``startup_timeout`` seconds. Retries with another port if the one
        picked was taken in the meantime.
        """
        if self.is_running():
            raise SynapseServerError("Synapse is already running")
        self.dir.mkdir(parents=True, exist_ok=True)
        began = time.monotonic()
        for attempt in range(_PORT_RETRIES):
            self.port = _free_port()
            self._write_config()
            self._spawn()
            try:
                self._wait_until_ready()
            except SynapseServerError:
                taken = "Address already in use" in self._read_logs()
                self.stop()
                if taken and attempt + 1 < _PORT_RETRIES:
                    for path in (self.log_path, self.output_path):  # keep the next attempt's tail clean
                        path.unlink(missing_ok=True)
                    continue
                raise
            self.startup_seconds = time.monotonic() - began
            atexit.register(self.stop)
            return

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM Synapse, SIGKILL it if it is still there after ``timeout`` seconds. Idempotent."""
        process, self._process = self._process, None
        atexit.unregister(self.stop)
        if process is None:
            return
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout)

    def __enter__(self) -> SynapseServer:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    def check_alive(self) -> None:
        """Raise :class:`SynapseServerError` with the log tail if the process has exited."""
        if self._process is None:
            raise SynapseServerError("Synapse is not running (start() not called or stop() already called)")
        code = self._process.poll()
        if code is not None:
            raise SynapseServerError(f"Synapse exited with code {code}.\n{self.log_tail()}")

    def rss_bytes(self) -> int | None:
        """Resident memory of the Synapse process (Linux /proc), None where unknown."""
        if not self.is_running():
            return None
        try:
            status = Path(f"/proc/{self.pid}/status").read_text(encoding="ascii")
        except OSError:
            return None
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        return None

    def log_tail(self, lines: int = _LOG_TAIL_LINES) -> str:
        """The last ``lines`` lines of Synapse's log and of its stdout/stderr, for failure messages."""
        parts = []
        for path in (self.log_path, self.output_path):
            try:
                text = path.read_text(encoding="utf-8", errors="replace")
            except OSError:
                continue
            tail = "\n".join(text.splitlines()[-lines:])
            parts.append(f"--- last {lines} lines of {path} ---\n{tail or '(empty)'}")
        return "\n".join(parts) or "(no Synapse log written)"

    # --- users ------------------------------------------------------------------------------

    def user_id(self, localpart: str) -> str:
        return f"@{localpart}:{self.server_name}"

    def register(self, localpart: str, password: str, admin: bool = False) -> tuple[str, str]:
        """Create a user through the shared-secret admin API; returns (user_id, access_token)."""
        _, nonce_body = self._request("GET", "/_synapse/admin/v1/register")
        nonce = nonce_body["nonce"]
        mac = hmac.new(self.registration_shared_secret.encode(), digestmod=hashlib.sha1)
        mac.update(b"\x00".join([nonce.encode(), localpart.encode(), password.encode(), b"admin" if admin else b"notadmin"]))
        body = {"nonce": nonce, "username": localpart, "password": password, "admin": admin, "mac": mac.hexdigest()}
        _, result = self._request("POST", "/_synapse/admin/v1/register", body)
        return result["user_id"], result["access_token"]

    def login(self, user: str, password: str, device_id: str | None = None) -> tuple[str, str]:
        """Password login (``user`` is a localpart or a full user id); returns (user_id, access_token)."""
        body: dict[str, Any] = {
            "type": "m.login.password",
            "identifier": {"type": "m.id.user", "user": user},
            "password": password,
        }
        if device_id:
            body["device_id"] = device_id
        _, result = self._request("POST", "/_matrix/client/v3/login", body)
        return result["user_id"], result["access_token"]

    # --- internals --------------------------------------------------------------------------

    def config(self) -> dict[str, Any]:
        """The homeserver.yaml contents (as a dict) for the current port."""
        config: dict[str, Any] = {
            "server_name": self.server_name,
            "public_baseurl": f"{self.base_url}/",
            "pid_file": str(self.dir / "homeserver.pid"),
            "listeners": [
                {
                    "port": self.port,
                    "bind_addresses": ["127.0.0.1"],
                    "type": "http",
                    "tls": False,
                    "x_forwarded": False,
                    "resources": [{"names": ["client"], "compress": False}],
                }
            ],
            "database": {"name": "sqlite3", "args": {"database": str(self.dir / "homeserver.db")}},
            "log_config": str(self.dir / "log_config.yaml"),
            "media_store_path": str(self.dir / "media_store"),
            "signing_key_path": str(self.dir / "signing.key"),
            "registration_shared_secret": self.registration_shared_secret,
            "macaroon_secret_key": secrets.token_hex(16),
            "form_secret": secrets.token_hex(16),
            "enable_registration": False,
            "report_stats": False,
            "trusted_key_servers": [],
            "suppress_key_server_warning": True,
            "presence": {"enabled": False},
            "url_preview_enabled": False,
            "enable_metrics": False,
            # Password hashing is the slowest part of register/login; 4 is bcrypt's minimum.
            "bcrypt_rounds": 4,
        }
        if not self.rate_limited:
            config.update(RELAXED_RATE_LIMITS)
        return config

    def _write_config(self) -> None:
        log_config = {
            "version": 1,
            "formatters": {"plain": {"format": "%(asctime)s %(name)s %(levelname)s %(message)s"}},
            "handlers": {
                "file": {
                    "class": "logging.FileHandler",
                    "filename": str(self.log_path),
                    "formatter": "plain",
                    "level": "WARNING",
                    "encoding": "utf-8",
                }
            },
            "root": {"level": "WARNING", "handlers": ["file"]},
            "disable_existing_loggers": False,
        }
        (self.dir / "log_config.yaml").write_text(yaml.safe_dump(log_config), encoding="utf-8")
        key_path = self.dir / "signing.key"
        if not key_path.exists():
            _write_signing_key(key_path)
        self.config_path.write_text(yaml.safe_dump(self.config(), sort_keys=False), encoding="utf-8")

    def command(self) -> list[str]:
        """The command line that starts Synapse (the interpreter running the tests must have it)."""
        return [sys.executable, "-m", "synapse.app.homeserver", "--config-path", str(self.config_path)]

    def _spawn(self) -> None:
        in_main_thread = threading.current_thread() is threading.main_thread()
        with self.output_path.open("ab") as out:
            self._process = subprocess.Popen(
                self.command(),
                cwd=self.dir,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                # PR_SET_PDEATHSIG fires when the *thread* that forked exits, so only from the main thread.
                preexec_fn=_parent_death_signal() if in_main_thread else None,
            )

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        url = f"{self.base_url}/_matrix/client/versions"
        while True:
            self.check_alive()
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status == 200:
                        return
            except (OSError, urllib.error.URLError):
                pass
            if time.monotonic() > deadline:
                raise SynapseServerError(f"Synapse did not answer {url} within {self.startup_timeout:.0f} s.\n{self.log_tail()}")
            time.sleep(0.05)

    def _read_logs(self) -> str:
        texts = []
        for path in (self.log_path, self.output_path):
            with contextlib.suppress(OSError):
                texts.append(path.read_text(encoding="utf-8", errors="replace"))
        return "\n".join(texts)

    def _request(self, method: str, path: str, body: dict[str, Any] | None = None, token: str | None = None) -> tuple[int, dict[str, Any]]:
        self.check_alive()
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base_url + path, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as err:
            detail = err.read().decode("utf-8", errors="replace")
            raise SynapseServerError(f"{method} {path} -> HTTP {err.code}: {detail}") from None
        except OSError as err:
            dead = "" if self.is_running() else f"\nSynapse is not running.\n{self.log_tail()}"
            raise SynapseServerError(f"{method} {path} failed: {err}{dead}") from err


def run_scenario(server: SynapseServer, scenario: Callable[[], Awaitable[None]], timeout: float = 60.0) -> None:
    """Run an async scenario; on failure attach Synapse's log tail to the exception."""

    async def main() -> None:
        try:
            await asyncio.wait_for(scenario(), timeout)
        finally:
            await reap_tasks()

    try:
        asyncio.run(main())
    except BaseException as exc:
        exc.add_note(server.log_tail())
        raise


def unique(prefix: str) -> str:
    """A localpart no other test or run on a shared server uses."""
    return f"{prefix}-{secrets.token_hex(4)}"
