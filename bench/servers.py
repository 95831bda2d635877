"""The servers under test, each started as its own OS process on loopback and stopped with its group.

`fake` is souverain's fake OpenAI-compatible backend; `souverain` and `litellm` are the two gateways,
both configured to forward `fake-model` to that same fake. Every server writes its output to a log file
in the run's folder, so a failed start can be read afterwards.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import yaml

MODEL = "fake-model"
HOST = "127.0.0.1"
CHAT_PATH = "/v1/chat/completions"
# LiteLLM's master key must start with "sk-"; it is the proxy's only credential here (no database).
LITELLM_KEY = "sk-bench-0000000000000000"


class ServerError(RuntimeError):
    """A server did not start, or a request that must succeed did not."""


@dataclass
class Server:
    name: str
    process: subprocess.Popen[bytes]
    base_url: str  # scheme://host:port, without a path
    log_path: Path
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def chat_url(self) -> str:
        return self.base_url + CHAT_PATH


def free_port() -> int:
    """A port nobody listens on now (other people's servers may hold the usual ones)."""
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


def _launch(
    name: str, command: list[str], port: int, logs: Path, environment: dict[str, str] | None = None
) -> Server:
    log_path = logs / f"{name}.log"
    with log_path.open("wb") as log:
        # A session of its own: Ctrl-C reaches only the bench, which then stops the whole group.
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(environment or {})},
            start_new_session=True,
        )
    return Server(name, process, f"http://{HOST}:{port}", log_path)


def wait_until_ready(server: Server, path: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise ServerError(f"{server.name} exited with {server.process.returncode}; see {server.log_path}")
        try:
            with urllib.request.urlopen(server.base_url + path, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    raise ServerError(f"{server.name} not ready after {timeout:.0f} s; see {server.log_path}")


def stop(server: Server) -> None:
    """SIGTERM to the server's process group, SIGKILL if it has not exited within 10 s."""
    if server.process.poll() is not None:
        return
    for signal_number, grace in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.process.pid, signal_number)
        try:
            server.process.wait(grace)
            return
        except subprocess.TimeoutExpired:
            continue


@contextlib.contextmanager
def running(server: Server, ready_path: str, timeout: float) -> Iterator[Server]:
    try:
        wait_until_ready(server, ready_path, timeout)
        yield server
    finally:
        stop(server)


def fake_backend(logs: Path, port: int) -> contextlib.AbstractContextManager[Server]:
    command = [sys.executable, "-m", "souverain.testing.fake_backend", "--host", HOST, "--port", str(port)]
    return running(_launch("fake", command, port, logs), "/v1/models", timeout=30)


def souverain(
    logs: Path, port: int, backend_url: str, command: str, audit: bool = True
) -> contextlib.AbstractContextManager[Server]:
    """A deployment file, a member key of tenant `bench`, then `souverain serve`, with its own data;
    `audit=False` serves with the audit log off (SOUVERAIN_AUDIT=false), to measure what it costs."""
    data_dir = logs / ("souverain-data" if audit else "souverain-unaudited-data")
    data_dir.mkdir(exist_ok=True)
    config = logs / "souverain.yaml"
    deployment = {
        "site": {"name": "bench", "jurisdiction": "LU"},
        "backends": [
            {"name": "fake-lu", "kind": "openai", "url": backend_url, "models": [MODEL], "jurisdiction": "LU"}
        ],
        "tenants": [{"name": "bench", "residency": ["LU"], "models": [MODEL]}],
    }
    config.write_text(yaml.safe_dump(deployment, sort_keys=False))
    environment = {"SOUVERAIN_DATA_DIR": str(data_dir), "SOUVERAIN_AUDIT": "true" if audit else "false"}
    executable = shutil.which(command) or command
    created = subprocess.run(
        [executable, "keys", "create", "--tenant", "bench", "--role", "member", "--config", str(config)],
        capture_output=True,
        env={**os.environ, **environment},
        timeout=120,
        check=False,
    )
    lines = created.stdout.decode().strip().splitlines()
    if created.returncode != 0 or not lines:
        raise ServerError(
            f"souverain keys create failed ({created.returncode}): {created.stderr.decode()[-2000:]}"
        )
    serve = [executable, "serve", "--config", str(config), "--host", HOST, "--port", str(port)]
    server = _launch("souverain" if audit else "souverain-unaudited", serve, port, logs, environment)
    server.headers = {"Authorization": f"Bearer {lines[-1].strip()}"}
    return running(server, "/healthz", timeout=60)


def litellm_config(backend_url: str) -> dict[str, object]:
    """A bare LiteLLM proxy: one model, the master key as only credential, no database, no callbacks."""
    return {
        "model_list": [
            {
                "model_name": MODEL,
                "litellm_params": {"model": f"openai/{MODEL}", "api_base": backend_url, "api_key": "unused"},
            }
        ],
        "litellm_settings": {"set_verbose": False, "json_logs": True},
        "general_settings": {
            "master_key": LITELLM_KEY,
            "disable_spend_logs": True,
            "disable_error_logs": True,
        },
    }


LITELLM_ENVIRONMENT = {
    "LITELLM_LOG": "ERROR",  # LiteLLM's production advice: no info logs
    "LITELLM_LOCAL_MODEL_COST_MAP": "True",  # the bundled price table, not a download at start
}


def litellm(logs: Path, port: int, backend_url: str, venv: Path) -> contextlib.AbstractContextManager[Server]:
    executable = venv / "bin" / "litellm"
    if not executable.exists():
        raise ServerError(
            f"{executable} not found: run `bash bench/setup_litellm.sh` first, or pass --no-litellm"
        )
    config = logs / "litellm.yaml"
    config.write_text(yaml.safe_dump(litellm_config(backend_url), sort_keys=False))
    command = [
        str(executable),
        "--config",
        str(config),
        "--host",
        HOST,
        "--port",
        str(port),
        "--num_workers",
        "1",
    ]
    server = _launch("litellm", command, port, logs, LITELLM_ENVIRONMENT)
    server.headers = {"Authorization": f"Bearer {LITELLM_KEY}"}
    return running(server, "/health/liveliness", timeout=120)


def litellm_version(venv: Path) -> str | None:
    python = venv / "bin" / "python"
    if not python.exists():
        return None
    found = subprocess.run(
        [str(python), "-c", "import importlib.metadata as m; print(m.version('litellm'))"],
        capture_output=True,
        timeout=60,
        check=False,
    )
    return found.stdout.decode().strip() or None
