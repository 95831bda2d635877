"""Gateway overhead benchmark: souverain and the LiteLLM proxy in front of the same fake model server.

Method. Every server runs as its own OS process on 127.0.0.1: souverain's fake OpenAI-compatible
backend, `souverain serve` and `litellm` (from its own virtual environment, bench/setup_litellm.sh),
both gateways forwarding `fake-model` to that one fake. Each phase is one target (direct to the fake,
through souverain, through LiteLLM), one concurrency (1, 16, 64), non-streaming or streaming, and runs
in a fresh load-generator process (bench/loadgen.py): a warm-up, then a measured run of fixed duration
with N closed-loop connections. It reports latency p50/p99, time to first token for streams (the first
body bytes that carry a `content` delta), requests per second and errors (non-2xx, broken bodies or
streams, connection failures). The CPU time (user + system, via psutil, of each process and its
children) of the gateway and of the fake is read just before and just after the measured run and
divided by the requests completed in it. The three targets run back to back for each mode and
concurrency, so that every ratio compares figures measured side by side in the same minute.

Prints a Markdown report, writes it with all figures as JSON into bench/results/ (git-ignored, with the
servers' logs and configuration), and exits 1 if a checked target fails, 2 if the run could not be made.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path
from types import FrameType
from typing import Any

import orjson

import report
import servers
from provenance import git_commit, package_version

HERE = Path(__file__).resolve().parent
LOADGEN = HERE / "loadgen.py"
PROMPT = "Say hello to the benchmark in eight short words"


def request_body(stream: bool) -> str:
    body: dict[str, Any] = {
        "model": servers.MODEL,
        "messages": [{"role": "user", "content": PROMPT}],
        "max_tokens": 16,
    }
    if stream:
        body |= {"stream": True, "stream_options": {"include_usage": True}}
    return orjson.dumps(body).decode()


def run_load(
    server: servers.Server,
    fake: servers.Server,
    mode: str,
    concurrency: int,
    warmup: float,
    duration: float,
    client: str,
) -> dict[str, Any]:
    """One load-generator process against one target; its JSON result."""
    command = [sys.executable, str(LOADGEN), "--url", server.chat_url]
    command += ["--body", request_body(mode == "stream")]
    command += ["--concurrency", str(concurrency), "--warmup", str(warmup), "--duration", str(duration)]
    command += ["--client", client, "--watch", f"fake={fake.pid}"]
    if server is not fake:
        command += ["--watch", f"proxy={server.pid}"]
    if mode == "stream":
        command.append("--stream")
    for name, value in server.headers.items():
        command += ["--header", f"{name}: {value}"]
    finished = subprocess.run(command, capture_output=True, timeout=warmup + duration + 120, check=False)
    if finished.returncode != 0:
        raise servers.ServerError(f"load generator failed: {finished.stderr.decode()[-3000:]}")
    result: dict[str, Any] = json.loads(finished.stdout)
    return result


def smoke_test(server: servers.Server) -> None:
    """One request of each kind must succeed before anything is measured; say why when it does not."""
    for stream in (False, True):
        headers = {"Content-Type": "application/json", **server.headers}
        request = urllib.request.Request(server.chat_url, request_body(stream).encode(), headers)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                body = response.read()
        except urllib.error.HTTPError as error:
            detail = error.read().decode(errors="replace")[:500]
            raise servers.ServerError(
                f"{server.name}: HTTP {error.code} on a test request: {detail}"
            ) from None
        except (urllib.error.URLError, OSError) as error:
            raise servers.ServerError(f"{server.name}: test request failed: {error}") from None
        if b'"content"' not in body:
            raise servers.ServerError(f"{server.name}: unexpected answer to a test request: {body[:300]!r}")


def environment(litellm_version: str | None) -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "machine": f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs",
        "load_average_at_start": [round(value, 2) for value in os.getloadavg()],
        "commit": git_commit(),
        "versions": {
            name: package_version(name)
            for name in ("souverain", "fastapi", "uvicorn", "aiohttp", "uvloop", "httptools")
        }
        | {"litellm": litellm_version},
    }


def _interrupt(signal_number: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def measure(arguments: argparse.Namespace, run_folder: Path) -> list[dict[str, Any]]:
    targets: list[str] = arguments.targets
    with contextlib.ExitStack() as stack:
        fake = stack.enter_context(servers.fake_backend(run_folder, servers.free_port()))
        backend_url = fake.base_url + "/v1"
        under_test = {"direct": fake}
        if "souverain" in targets:
            under_test["souverain"] = stack.enter_context(
                servers.souverain(run_folder, servers.free_port(), backend_url, arguments.souverain_command)
            )
        if "souverain-unaudited" in targets:
            under_test["souverain-unaudited"] = stack.enter_context(
                servers.souverain(
                    run_folder, servers.free_port(), backend_url, arguments.souverain_command, audit=False
                )
            )
        if "litellm" in targets:
            under_test["litellm"] = stack.enter_context(
                servers.litellm(run_folder, servers.free_port(), backend_url, arguments.litellm_venv)
            )
        for name in targets:
            smoke_test(under_test[name])
            _log(f"{name}: ready, warming up for {arguments.startup_warmup:g} s per mode")
            for mode in arguments.modes:
                run_load(under_test[name], fake, mode, 16, arguments.startup_warmup, 0, arguments.client)
        phases: list[dict[str, Any]] = []
        for mode in arguments.modes:
            for concurrency in arguments.concurrency:
                rounds: dict[str, list[dict[str, Any]]] = {name: [] for name in targets}
                for round_number in range(arguments.repeat):
                    for name in targets:
                        load_average = os.getloadavg()[0]
                        result = run_load(
                            under_test[name],
                            fake,
                            mode,
                            concurrency,
                            arguments.warmup,
                            arguments.duration,
                            arguments.client,
                        )
                        result["load_average_before"] = round(load_average, 2)
                        rounds[name].append(result)
                        _log(
                            f"{report.MODE_LABELS[mode]:>13} c={concurrency:<3} {name:<9} "
                            f"round {round_number + 1}: {result['rps']:>8,.0f} req/s  "
                            f"p50 {result['latency_ms']['p50']} ms  errors {result['errors']}"
                        )
                for name in targets:
                    phases.append(
                        {"target": name, "mode": mode, "concurrency": concurrency} | _median(rounds[name])
                    )
        return phases


def _median(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """The round with the median throughput, all rounds kept beside it; errors are those of all rounds."""
    ranked = sorted(rounds, key=lambda result: result["rps"])
    chosen = dict(ranked[(len(ranked) - 1) // 2])
    chosen["errors"] = sum(result["errors"] for result in rounds)
    chosen["error_reasons"] = dict(sum((Counter(result["error_reasons"]) for result in rounds), Counter()))
    chosen["rounds"] = rounds
    return chosen


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _names(choices: tuple[str, ...]) -> Any:
    def parse(text: str) -> list[str]:
        names = [name.strip() for name in text.split(",") if name.strip()]
        unknown = sorted(set(names) - set(choices))
        if unknown or not names:
            raise argparse.ArgumentTypeError(f"choose among {', '.join(choices)}")
        return [name for name in choices if name in names]  # a fixed order, whatever was typed

    return parse


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError("expected a whole number of at least 1")
    return int(text)


def _integers(text: str) -> list[int]:
    try:
        values = sorted({int(value) for value in text.split(",") if value.strip()})
    except ValueError:
        raise argparse.ArgumentTypeError("expected numbers separated by commas, e.g. 1,16,64") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError("concurrency levels must be at least 1")
    return values


class _HelpFormatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """The module docstring as written, and each option's default after its help."""


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=_HelpFormatter)
    parser.add_argument(
        "--targets",
        type=_names(tuple(report.TARGET_LABELS)),
        default=",".join(report.TARGET_LABELS),
        help="Comma-separated targets to measure.",
    )
    parser.add_argument(
        "--no-litellm", action="store_true", help="Leave LiteLLM out (same as omitting it from --targets)."
    )
    parser.add_argument(
        "--concurrency",
        type=_integers,
        default="1,16,64",
        help="Comma-separated concurrency levels.",
    )
    parser.add_argument(
        "--modes",
        type=_names(tuple(report.MODE_LABELS)),
        default=",".join(report.MODE_LABELS),
        help="Comma-separated modes: plain (non-streaming), stream.",
    )
    parser.add_argument(
        "--warmup", type=float, default=2.0, help="Seconds of warm-up before each measured phase."
    )
    parser.add_argument("--duration", type=float, default=4.0, help="Seconds of each measured phase.")
    parser.add_argument(
        "--repeat",
        type=_positive,
        default=1,
        help="Rounds per phase, the targets taking turns; the round with the median req/s is reported "
        "(use 3 on a busy machine).",
    )
    parser.add_argument(
        "--startup-warmup",
        type=float,
        default=5.0,
        help="Seconds of load at concurrency 16, per mode, right after each server starts "
        "(lazy imports, caches).",
    )
    parser.add_argument(
        "--client",
        choices=("raw", "aiohttp"),
        default="raw",
        help="Load-generator client: raw (httptools on uvloop, cheapest) or aiohttp.",
    )
    parser.add_argument(
        "--souverain-command",
        default="souverain",
        help="The souverain executable.",
    )
    parser.add_argument(
        "--litellm-venv",
        type=Path,
        default=HERE / ".venv-litellm",
        help="Virtual environment holding litellm[proxy].",
    )
    parser.add_argument(
        "--results", type=Path, default=HERE / "results", help="Folder for the JSON result and server logs."
    )
    arguments = parser.parse_args(argv)
    if arguments.no_litellm and "litellm" in arguments.targets:
        arguments.targets.remove("litellm")
    return arguments


def main(argv: list[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    signal.signal(signal.SIGTERM, _interrupt)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    run_folder = arguments.results / f"gateway-{stamp}"
    run_folder.mkdir(parents=True, exist_ok=True)
    litellm_version = (
        servers.litellm_version(arguments.litellm_venv) if "litellm" in arguments.targets else None
    )
    settings = {
        key: str(value) if isinstance(value, Path) else value for key, value in vars(arguments).items()
    }
    context = environment(litellm_version)
    started = time.monotonic()
    try:
        phases = measure(arguments, run_folder)
    except (servers.ServerError, subprocess.TimeoutExpired, OSError) as error:
        _log(f"bench failed: {error}")
        return 2
    except KeyboardInterrupt:
        _log("interrupted; servers stopped")
        return 130
    derived = report.derive(phases)
    results = report.verdicts(derived)
    markdown = "\n\n".join(
        [
            f"## Gateway benchmark {stamp}",
            f"{context['machine']}, load average {context['load_average_at_start'][0]} at the start; "
            f"phases of {arguments.warmup:g} s warm-up + {arguments.duration:g} s measured; "
            f"LiteLLM {litellm_version or 'not measured'}.",
            report.phase_table(phases),
            "### Derived figures",
            report.derived_lines(derived),
            "### Targets",
            report.verdict_table(results),
        ]
    )
    print(markdown)
    document = {
        "started": stamp,
        "seconds": round(time.monotonic() - started, 1),
        "environment": context,
        "settings": settings,
        "litellm_config": servers.litellm_config("http://127.0.0.1:PORT/v1"),
        "litellm_environment": servers.LITELLM_ENVIRONMENT,
        "phases": phases,
        "derived": derived,
        "targets": report.as_json(results),
    }
    output = arguments.results / f"gateway-{stamp}.json"
    output.write_bytes(orjson.dumps(document, option=orjson.OPT_INDENT_2))
    (run_folder / "report.md").write_text(markdown + "\n")
    _log(f"results: {output} (logs in {run_folder})")
    return 1 if any(verdict.status == "FAIL" for verdict in results) else 0


if __name__ == "__main__":
    sys.exit(main())
