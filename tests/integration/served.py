"""Running the real `souverain` command as a user would: `souverain keys create`, `souverain serve`."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def environment(data_dir: Path) -> dict[str, str]:
    return {**os.environ, "SOUVERAIN_DATA_DIR": str(data_dir), "SOUVERAIN_LOG_LEVEL": "warning"}


def souverain(*arguments: str, data_dir: Path, input: str | None = None) -> subprocess.CompletedProcess[str]:
    """The command run to its end; `input` is what the user types, for a command that asks."""
    return subprocess.run(
        [sys.executable, "-m", "souverain", *arguments],
        env=environment(data_dir),
        input=input,
        capture_output=True,
        text=True,
        timeout=120,
    )


def create_key(tenant: str, data_dir: Path, config: Path | None = None, role: str = "member") -> str:
    options = ["--config", str(config)] if config else []
    result = souverain("keys", "create", "--tenant", tenant, "--role", role, *options, data_dir=data_dir)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


@dataclass
class Served:
    url: str
    process: subprocess.Popen[str]

    @property
    def api(self) -> str:
        return self.url + "/v1"


@contextmanager
def serve(data_dir: Path, config: Path | None = None, startup_seconds: float = 90) -> Iterator[Served]:
    port = free_port()
    options = ["--config", str(config)] if config else []
    process = subprocess.Popen(
        [sys.executable, "-m", "souverain", "serve", "--port", str(port), *options],
        env=environment(data_dir),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + startup_seconds
        while True:
            if process.poll() is not None:
                raise RuntimeError(
                    f"souverain serve exited: {process.stdout.read() if process.stdout else ''}"
                )
            try:
                if httpx.get(url + "/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("souverain serve did not become ready")
            time.sleep(0.1)
        yield Served(url, process)
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
