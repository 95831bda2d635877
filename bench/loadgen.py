"""Closed-loop HTTP load generator for one benchmark phase, run as its own process by bench/gateway.py.

N workers each own one keep-alive connection and send the same POST back to back: a warm-up for a
fixed time, then a measured run for a fixed time (requests started before the deadline are awaited and
counted). It prints one JSON object: latency and time-to-first-token percentiles, requests per second,
errors by reason, and the CPU time that each watched process (and the generator itself) spent during
the measured run only.

Two clients: `raw` (an asyncio protocol with the httptools C parser on uvloop, the default: 0.02-0.04
ms of CPU per non-streamed request, about what `wrk` spends, so it is not the bottleneck on a 2-core
machine) and `aiohttp` (the usual Python client, 2-4 times dearer, kept to show the difference).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections import Counter
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any, cast
from urllib.parse import urlsplit

import httptools
import psutil

# What a complete answer must contain, so that a 200 with an error inside is still counted as an error.
_COMPLETION_MARK = b'"choices"'
_CONTENT_MARK = b'"content"'
_STREAM_END = b"data: [DONE]"
_MAX_RESPONSE_BYTES = 1 << 20
_GRACE_SECONDS = 30.0


@dataclass
class Sample:
    """What the workers record during one run (warm-up or measured)."""

    latencies: list[float] = field(default_factory=list)
    first_tokens: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)


class _Exchange(asyncio.Protocol):
    """One keep-alive connection that carries one request at a time and parses the answer with httptools."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.done: asyncio.Future[int] | None = None
        self.closed = False
        self.body = bytearray()
        self.first_token_at = 0.0
        self.keep_alive = True

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports are not subclasses

    def connection_lost(self, error: Exception | None) -> None:
        self.closed = True
        if self.done is not None and not self.done.done():
            self.done.set_exception(ConnectionError("connection closed mid-response"))

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as error:
            if self.done is not None and not self.done.done():
                self.done.set_exception(error)

    # httptools callbacks
    def on_headers_complete(self) -> None:
        # Asked here: after the message is complete, httptools always answers False.
        self.keep_alive = self.parser.should_keep_alive()

    def on_body(self, body: bytes) -> None:
        # The mark may straddle two reads, hence the tail of what came before.
        if not self.first_token_at and _CONTENT_MARK in self.body[-16:] + body:
            self.first_token_at = time.perf_counter()
        if len(self.body) < _MAX_RESPONSE_BYTES:
            self.body += body

    def on_message_complete(self) -> None:
        if self.done is not None and not self.done.done():
            self.done.set_result(self.parser.get_status_code())

    async def exchange(self, request: bytes) -> int:
        assert self.transport is not None
        self.body.clear()
        self.first_token_at = 0.0
        self.done = asyncio.get_running_loop().create_future()
        self.transport.write(request)
        return await self.done


def _raw_request(url: str, headers: dict[str, str], body: bytes) -> bytes:
    parts = urlsplit(url)
    lines = [f"POST {parts.path or '/'} HTTP/1.1", f"Host: {parts.netloc}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    lines += [f"Content-Length: {len(body)}", "", ""]
    return "\r\n".join(lines).encode() + body


def _failure(status: int, body: bytes | bytearray, stream: bool, first_token_at: float) -> str | None:
    """Why an answer does not count as a success, or None when it does."""
    if not 200 <= status < 300:
        return f"status {status}"
    if stream:
        if not first_token_at:
            return "stream without content"
        if _STREAM_END not in body[-64:]:
            return "stream without [DONE]"
    elif _COMPLETION_MARK not in body:
        return "body without choices"
    return None


async def _raw_worker(url: str, request: bytes, stream: bool, deadline: float, sample: Sample) -> None:
    parts = urlsplit(url)
    loop = asyncio.get_running_loop()
    connection: _Exchange | None = None
    while time.perf_counter() < deadline:
        started = time.perf_counter()
        try:
            if connection is None or connection.closed:
                _, connection = await loop.create_connection(_Exchange, parts.hostname, parts.port)
            status = await connection.exchange(request)
            ended = time.perf_counter()
        except (OSError, httptools.HttpParserError) as error:
            sample.errors[type(error).__name__] += 1
            connection = None
            await asyncio.sleep(0.01)  # a refused connection must not spin the loop
            continue
        reason = _failure(status, connection.body, stream, connection.first_token_at)
        if reason:
            sample.errors[reason] += 1
        else:
            sample.latencies.append(ended - started)
            if stream:
                sample.first_tokens.append(connection.first_token_at - started)
        if not connection.keep_alive and connection.transport is not None:
            connection.transport.close()
            connection = None
    if connection is not None and connection.transport is not None:
        connection.transport.close()


async def _aiohttp_worker(
    session: Any,
    url: str,
    headers: dict[str, str],
    body: bytes,
    stream: bool,
    deadline: float,
    sample: Sample,
) -> None:
    import aiohttp

    while time.perf_counter() < deadline:
        started = time.perf_counter()
        first_token_at = 0.0
        try:
            async with session.post(url, data=body, headers=headers) as response:
                if stream:
                    content = bytearray()
                    async for chunk in response.content.iter_any():
                        if not first_token_at and _CONTENT_MARK in chunk:
                            first_token_at = time.perf_counter()
                        content += chunk
                else:
                    content = bytearray(await response.read())
                status = response.status
            ended = time.perf_counter()
        except (aiohttp.ClientError, OSError) as error:
            sample.errors[type(error).__name__] += 1
            await asyncio.sleep(0.01)
            continue
        reason = _failure(status, content, stream, first_token_at)
        if reason:
            sample.errors[reason] += 1
        else:
            sample.latencies.append(ended - started)
            if stream:
                sample.first_tokens.append(first_token_at - started)


class _Load:
    """The phase's fixed request, sent by `concurrency` workers of the chosen client."""

    def __init__(self, arguments: argparse.Namespace) -> None:
        self.url: str = arguments.url
        self.stream: bool = arguments.stream
        self.concurrency: int = arguments.concurrency
        self.client: str = arguments.client
        self.headers = {"Content-Type": "application/json", **dict(arguments.header)}
        self.body = arguments.body.encode()
        self.request = _raw_request(self.url, self.headers, self.body)
        self.session: Any = None

    async def run(self, seconds: float) -> Sample:
        sample = Sample()
        deadline = time.perf_counter() + seconds
        workers = [asyncio.ensure_future(self._worker(deadline, sample)) for _ in range(self.concurrency)]
        # A server that stops answering must not hang the bench: what is still running is an error.
        _, unfinished = await asyncio.wait(workers, timeout=seconds + _GRACE_SECONDS)
        for worker in unfinished:
            worker.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
        if unfinished:
            sample.errors[f"no answer {_GRACE_SECONDS:.0f} s after the deadline"] += len(unfinished)
        return sample

    def _worker(self, deadline: float, sample: Sample) -> Coroutine[Any, Any, None]:
        if self.client == "raw":
            return _raw_worker(self.url, self.request, self.stream, deadline, sample)
        return _aiohttp_worker(self.session, self.url, self.headers, self.body, self.stream, deadline, sample)

    async def __aenter__(self) -> _Load:
        if self.client == "aiohttp":
            import aiohttp

            connector = aiohttp.TCPConnector(limit=self.concurrency, force_close=False)
            self.session = aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=60))
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self.session is not None:
            await self.session.close()


class _CpuClock:
    """CPU seconds (user + system) spent by watched processes and their live descendants."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.processes = {name: psutil.Process(pid) for name, pid in pids.items()}

    def read(self) -> dict[str, float]:
        return {name: _cpu_seconds(process) for name, process in self.processes.items()}


def _cpu_seconds(process: psutil.Process) -> float:
    total = 0.0
    for member in [process, *process.children(recursive=True)]:
        try:
            times = member.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


def _percentile(sorted_values: list[float], fraction: float) -> float | None:
    """Nearest-rank percentile of already sorted values, in milliseconds."""
    if not sorted_values:
        return None
    rank = max(0, min(len(sorted_values) - 1, round(fraction * len(sorted_values) + 0.5) - 1))
    return round(sorted_values[rank] * 1000, 3)


async def measure(arguments: argparse.Namespace) -> dict[str, Any]:
    clock = _CpuClock(dict(arguments.watch))
    async with _Load(arguments) as load:
        warm = await load.run(arguments.warmup)
        machine_before, watched_before = psutil.cpu_times(), clock.read()
        own_before, started = time.process_time(), time.perf_counter()
        sample = await load.run(arguments.duration)
        elapsed = time.perf_counter() - started
        own_cpu = time.process_time() - own_before
        machine_after, watched_after = psutil.cpu_times(), clock.read()
    completed = len(sample.latencies)
    per_request = 1000 / completed if completed else None
    latencies, first_tokens = sorted(sample.latencies), sorted(sample.first_tokens)
    machine_busy = sum(machine_after) - sum(machine_before)
    machine_idle = machine_after.idle - machine_before.idle
    return {
        "completed": completed,
        "seconds": round(elapsed, 3),
        "rps": round(completed / elapsed, 1),
        "latency_ms": {"p50": _percentile(latencies, 0.50), "p99": _percentile(latencies, 0.99)},
        "ttft_ms": {"p50": _percentile(first_tokens, 0.50), "p99": _percentile(first_tokens, 0.99)},
        "errors": sum(sample.errors.values()),
        "error_reasons": dict(sample.errors),
        "warmup": {"completed": len(warm.latencies), "errors": sum(warm.errors.values())},
        "cpu_ms_per_request": {
            name: round((watched_after[name] - watched_before[name]) * per_request, 4)
            if per_request
            else None
            for name in watched_before
        }
        | {"loadgen": round(own_cpu * per_request, 4) if per_request else None},
        "machine_cpu_busy": round(1 - machine_idle / machine_busy, 3) if machine_busy else None,
    }


def _pair(text: str) -> tuple[str, str]:
    name, separator, value = text.partition("=")
    if not separator:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    return name, value


def _header(text: str) -> tuple[str, str]:
    name, separator, value = text.partition(":")
    if not separator:
        raise argparse.ArgumentTypeError(f"expected 'Name: value', got {text!r}")
    return name.strip(), value.strip()


def _watch(text: str) -> tuple[str, int]:
    name, value = _pair(text)
    return name, int(value)


class _HelpFormatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """The module docstring as written, and each option's default after its help."""


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=_HelpFormatter)
    parser.add_argument(
        "--url", required=True, help="Full URL to POST to, e.g. http://127.0.0.1:9000/v1/chat/completions."
    )
    parser.add_argument("--body", required=True, help="JSON request body, sent unchanged with every request.")
    parser.add_argument(
        "--header", type=_header, action="append", default=[], help="Extra header 'Name: value' (repeatable)."
    )
    parser.add_argument(
        "--stream", action="store_true", help="The body asks for a stream: check it and time the first token."
    )
    parser.add_argument(
        "--concurrency", type=int, default=1, help="Requests in flight at once (one connection each)."
    )
    parser.add_argument(
        "--warmup", type=float, default=2.0, help="Seconds of unmeasured load before the measured run."
    )
    parser.add_argument("--duration", type=float, default=4.0, help="Seconds of measured load.")
    parser.add_argument(
        "--watch",
        type=_watch,
        action="append",
        default=[],
        help="NAME=PID of a process whose CPU time per request to report (repeatable).",
    )
    parser.add_argument(
        "--client", choices=("raw", "aiohttp"), default="raw", help="HTTP client that sends the load."
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    arguments = parse_arguments(argv)
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    result = asyncio.run(measure(arguments))
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
