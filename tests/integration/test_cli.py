"""The `souverain` command as an operator runs it: the installed console script, in its own process."""

from __future__ import annotations

import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

DEPLOYMENT = """\
site: {name: test-site, jurisdiction: LU}
backends:
  - {name: mistral-lu, kind: openai, url: "http://127.0.0.1:9/v1", models: [mistral-small], jurisdiction: LU}
tenants:
  - {name: lu-health, residency: [LU], models: [mistral-small]}
"""


def console_script() -> str:
    beside_python = Path(sys.executable).parent / "souverain"
    found = str(beside_python) if beside_python.exists() else shutil.which("souverain")
    assert found, "the `souverain` console script is not installed (pip install -e .)"
    return found


SOUVERAIN = console_script()


@pytest.fixture
def environment(tmp_path: Path) -> dict[str, str]:
    """The caller's environment without SOUVERAIN_* settings; a fresh data folder; an 80-column terminal."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("SOUVERAIN_")}
    env["SOUVERAIN_DATA_DIR"] = str(tmp_path / "data")
    env["COLUMNS"] = "80"
    return env


@pytest.fixture
def deployment_file(tmp_path: Path) -> Path:
    path = tmp_path / "deploy.yaml"
    path.write_text(DEPLOYMENT, encoding="utf-8")
    return path


def souverain(env: dict[str, str], cwd: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [SOUVERAIN, *arguments], env=env, cwd=cwd, capture_output=True, text=True, timeout=60, check=False
    )


def create_key(env: dict[str, str], cwd: Path, config: Path) -> tuple[str, str]:
    """Create a member key with the CLI; returns its id and its secret."""
    result = souverain(
        env, cwd, "keys", "create", "--tenant", "lu-health", "--role", "member", "--config", str(config)
    )
    assert result.returncode == 0, result.stderr
    created = re.search(r"Created key (\w+) for tenant lu-health", result.stdout)
    assert created, result.stdout
    return created[1], result.stdout.splitlines()[-1]


def test_help_lists_the_commands(environment: dict[str, str], tmp_path: Path) -> None:
    result = souverain(environment, tmp_path, "--help")

    assert result.returncode == 0
    for command in ("serve", "keys", "config"):
        assert re.search(rf"^\W*{command}\s", result.stdout, re.MULTILINE), (
            f"{command} missing:\n{result.stdout}"
        )


def test_keys_create_prints_the_key_alone_on_the_last_line(
    environment: dict[str, str], tmp_path: Path, deployment_file: Path
) -> None:
    config = str(deployment_file)
    arguments = ["keys", "create", "--tenant", "lu-health", "--role", "member", "--config", config]
    result = souverain(environment, tmp_path, *arguments)

    assert result.returncode == 0, result.stderr
    last = result.stdout.rstrip("\n").splitlines()[-1]
    assert re.fullmatch(r"sk-souv-[A-Za-z0-9_-]{20,}", last), f"not a key alone on the last line: {last!r}"
    assert result.stdout.count(last) == 1
    assert "role member" in result.stdout
    assert "not shown again" in result.stdout


def test_keys_list_shows_the_key_id_and_never_the_secret(
    environment: dict[str, str], tmp_path: Path, deployment_file: Path
) -> None:
    key_id, secret = create_key(environment, tmp_path, deployment_file)

    result = souverain(environment, tmp_path, "keys", "list", "--config", str(deployment_file))

    assert result.returncode == 0, result.stderr
    assert secret not in result.stdout
    assert secret[len("sk-souv-") + 4 :] not in result.stdout
    assert "lu-he" in result.stdout
    assert key_id in result.stdout, (
        "BUG: in an 80-column terminal (or when piped) `souverain keys list` cuts the key id to "
        f"'{key_id[:5]}…', so the operator cannot copy it into `keys revoke`:\n{result.stdout}"
    )


def test_a_revoked_key_is_listed_as_revoked(
    environment: dict[str, str], tmp_path: Path, deployment_file: Path
) -> None:
    key_id, _ = create_key(environment, tmp_path, deployment_file)

    revoked = souverain(environment, tmp_path, "keys", "revoke", key_id, "--config", str(deployment_file))
    listed = souverain(environment, tmp_path, "keys", "list", "--config", str(deployment_file))

    assert revoked.returncode == 0, revoked.stderr
    assert f"Revoked key {key_id}" in revoked.stdout
    assert "active" not in listed.stdout
    assert "revoked" in listed.stdout, (
        f"BUG: in an 80-column terminal `souverain keys list` cuts the status 'revoked':\n{listed.stdout}"
    )


def test_revoking_an_unknown_key_fails_clearly(
    environment: dict[str, str], tmp_path: Path, deployment_file: Path
) -> None:
    result = souverain(
        environment, tmp_path, "keys", "revoke", "0123456789abcdef", "--config", str(deployment_file)
    )

    assert result.returncode == 1
    assert "0123456789abcdef" in result.stderr
    assert "Traceback" not in result.stderr


def test_an_invalid_role_is_refused_with_the_roles_that_exist(
    environment: dict[str, str], tmp_path: Path, deployment_file: Path
) -> None:
    config = str(deployment_file)
    arguments = ["keys", "create", "--tenant", "lu-health", "--role", "owner", "--config", config]
    result = souverain(environment, tmp_path, *arguments)

    assert result.returncode != 0
    assert "unknown role 'owner'" in result.stderr
    assert "admin, member, auditor" in result.stderr
    assert "Traceback" not in result.stderr
    assert "sk-souv-" not in result.stdout


def test_config_check_accepts_a_valid_file(
    environment: dict[str, str], tmp_path: Path, deployment_file: Path
) -> None:
    result = souverain(environment, tmp_path, "config", "check", "--config", str(deployment_file))

    assert result.returncode == 0, result.stderr
    assert f"{deployment_file}: valid (1 backends, 1 tenants)" in result.stdout


def test_config_check_refuses_an_invalid_file_naming_the_key_path(
    environment: dict[str, str], tmp_path: Path
) -> None:
    path = tmp_path / "invalid.yaml"
    path.write_text(DEPLOYMENT.replace("residency: [LU]", "residency: [LU, UK]"), encoding="utf-8")

    result = souverain(environment, tmp_path, "config", "check", "--config", str(path))

    assert result.returncode == 2
    assert str(path) in result.stderr
    assert "tenants[0].residency[1]: unknown jurisdiction code 'UK': use GB" in result.stderr
    assert "Traceback" not in result.stderr


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class Lines:
    """A process's output, line by line, read in a thread so that waiting for a line can time out."""

    def __init__(self, stream: Iterator[str]) -> None:
        self.seen: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, args=(stream,), daemon=True).start()

    def _read(self, stream: Iterator[str]) -> None:
        for line in stream:
            self._queue.put(line)
        self._queue.put(None)

    def wait_for(self, text: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not any(text in line for line in self.seen):
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"{text!r} not printed within {timeout} s:\n{''.join(self.seen)}"
            try:
                line = self._queue.get(timeout=remaining)
            except queue.Empty:
                continue
            assert line is not None, f"the process ended before printing {text!r}:\n{''.join(self.seen)}"
            self.seen.append(line)


def wait_for_health(url: str, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                status: int = response.status
                return status
        except (urllib.error.URLError, ConnectionError):
            # The banner comes before the embedded models are loaded; the port opens after.
            assert time.monotonic() < deadline, f"{url} did not answer within {timeout} s"
            time.sleep(0.2)


def test_serve_without_a_deployment_file_serves_the_demo(environment: dict[str, str], tmp_path: Path) -> None:
    port = free_port()
    errors = (tmp_path / "serve.err").open("w")
    process = subprocess.Popen(
        [SOUVERAIN, "serve", "--port", str(port)],
        env=environment,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=errors,
        text=True,
    )
    try:
        output = Lines(process.stdout)  # type: ignore[arg-type]
        output.wait_for("Listening on", timeout=30)
        status = wait_for_health(f"http://127.0.0.1:{port}/healthz", timeout=30)
        process.send_signal(signal.SIGINT)
        process.wait(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        errors.close()

    banner = "".join(output.seen)
    assert status == 200
    assert f"http://127.0.0.1:{port}" in banner
    assert "serving the demo tenant" in banner
    assert "tenants: demo" in banner
    hint = re.search(r"souverain keys create --tenant demo[^\n]*", banner)
    assert hint, banner
    assert process.returncode == 0, (tmp_path / "serve.err").read_text()

    # The hint works as printed, on the same data folder.
    created = souverain(environment, tmp_path, *hint[0].split()[1:])
    assert created.returncode == 0, created.stderr
    assert created.stdout.splitlines()[-1].startswith("sk-souv-")
