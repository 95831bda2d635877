"""A fake OpenAI-compatible model server on loopback, for tests and benchmarks.

It stands in for remote engines (vLLM, TGI, ...), counts what it receives and injects faults on
demand: `POST /_fake/faults {"mode": ..., "probability": ..., "delay": ...}`, `GET /_fake/stats`,
`POST /_fake/reset`. Run it alone with `python -m souverain.testing.fake_backend --port 9000`.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web

FAULT_MODES = ("none", "error500", "reject400", "slow_first_byte", "cut_stream", "malformed_sse", "hang")


@dataclass
class Faults:
    mode: str = "none"
    probability: float = 1.0
    delay: float = 0.0  # seconds before the first byte (slow_first_byte, hang)
    chunk_delay: float = 0.0  # seconds between streamed chunks
    chunks: int = 8  # streamed content chunks per answer

    def fires(self) -> bool:
        return self.mode != "none" and random.random() < self.probability


@dataclass
class Stats:
    chat: int = 0
    embeddings: int = 0
    cancelled: int = 0
    completed_streams: int = 0
    last_body: dict[str, Any] = field(default_factory=dict)
    last_headers: dict[str, str] = field(default_factory=dict)


def _words(messages: Any) -> list[str]:
    if not isinstance(messages, list) or not messages:
        return ["hello"]
    content = messages[-1].get("content") if isinstance(messages[-1], dict) else None
    text = content if isinstance(content, str) else "hello"
    return text.split() or ["hello"]


class FakeBackend:
    def __init__(self, name: str = "fake") -> None:
        self.name = name
        self.faults = Faults()
        self.stats = Stats()
        self.reply: str | None = None  # when set, the answer to every chat request; else an echo
        self.pieces: list[str] | None = None  # when set, a streamed answer is exactly these pieces
        self.app = web.Application(client_max_size=64 * 1024 * 1024)
        self.app.add_routes(
            [
                web.post("/v1/chat/completions", self.chat),
                web.post("/v1/embeddings", self.embeddings),
                web.get("/v1/models", self.models),
                web.post("/_fake/faults", self.set_faults),
                web.get("/_fake/stats", self.get_stats),
                web.post("/_fake/reset", self.reset),
            ]
        )
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self.port = 0

    # --- handlers -------------------------------------------------------------------------------
    async def chat(self, request: web.Request) -> web.StreamResponse:
        body = orjson.loads(await request.read())
        self.stats.chat += 1
        self.stats.last_body = body
        self.stats.last_headers = dict(request.headers)
        faults = self.faults
        fault = faults.mode if faults.fires() else "none"
        if fault == "error500":
            return web.json_response({"error": {"message": "injected failure"}}, status=500)
        if fault == "reject400":
            return web.json_response({"error": {"message": "temperature must be <= 2"}}, status=400)
        if fault in ("slow_first_byte", "hang"):
            await asyncio.sleep(faults.delay if fault == "slow_first_byte" else 3600)
        words = self.reply.split() if self.reply else _words(body.get("messages"))
        model = body.get("model", "fake")
        if body.get("stream"):
            return await self._stream(request, body, words, fault)
        text = self.reply or " ".join(words)
        return web.Response(
            body=orjson.dumps(
                {
                    "id": "chatcmpl-fake",
                    "object": "chat.completion",
                    "created": int(time.time()),
                    "model": model,
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": text},
                            "finish_reason": "stop",
                        }
                    ],
                    "usage": {
                        "prompt_tokens": len(words),
                        "completion_tokens": len(words),
                        "total_tokens": 2 * len(words),
                    },
                }
            ),
            content_type="application/json",
        )

    async def _stream(
        self, request: web.Request, body: dict[str, Any], words: list[str], fault: str
    ) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        faults = self.faults
        base = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": int(time.time())}
        base["model"] = body.get("model", "fake")
        pieces = self.pieces or [(words[i % len(words)] + " ") for i in range(faults.chunks)]
        try:
            for index, piece in enumerate(pieces):
                if fault == "cut_stream" and index == len(pieces) // 2:
                    assert request.transport is not None
                    request.transport.close()
                    return response
                if fault == "malformed_sse" and index == len(pieces) // 2:
                    await response.write(b"this is not an event\n\n")
                    continue
                delta = {"role": "assistant", "content": piece} if index == 0 else {"content": piece}
                chunk = {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]}
                await response.write(b"data: " + orjson.dumps(chunk) + b"\n\n")
                if faults.chunk_delay:
                    await asyncio.sleep(faults.chunk_delay)
            final = {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
            await response.write(b"data: " + orjson.dumps(final) + b"\n\n")
            if (body.get("stream_options") or {}).get("include_usage"):
                usage = {"prompt_tokens": len(words), "completion_tokens": len(pieces)}
                usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
                await response.write(
                    b"data: " + orjson.dumps({**base, "choices": [], "usage": usage}) + b"\n\n"
                )
            await response.write(b"data: [DONE]\n\n")
            await response.write_eof()
            self.stats.completed_streams += 1
        except (ConnectionResetError, asyncio.CancelledError):
            self.stats.cancelled += 1
            raise
        return response

    async def embeddings(self, request: web.Request) -> web.Response:
        body = orjson.loads(await request.read())
        self.stats.embeddings += 1
        self.stats.last_body = body
        if self.faults.fires() and self.faults.mode == "error500":
            return web.json_response({"error": {"message": "injected failure"}}, status=500)
        texts = body["input"] if isinstance(body.get("input"), list) else [body.get("input", "")]
        data = [
            {"object": "embedding", "index": i, "embedding": [float(len(str(text))), 1.0, 0.0]}
            for i, text in enumerate(texts)
        ]
        usage = {"prompt_tokens": len(texts), "total_tokens": len(texts)}
        return web.json_response({"object": "list", "data": data, "model": body.get("model"), "usage": usage})

    async def models(self, request: web.Request) -> web.Response:
        return web.json_response({"object": "list", "data": [{"id": "fake", "object": "model"}]})

    async def set_faults(self, request: web.Request) -> web.Response:
        settings = await request.json()
        if settings.get("mode", "none") not in FAULT_MODES:
            return web.json_response({"error": f"mode must be one of {FAULT_MODES}"}, status=400)
        self.faults = Faults(**settings)
        return web.json_response({"ok": True})

    async def get_stats(self, request: web.Request) -> web.Response:
        stats = self.stats
        return web.json_response(
            {
                "chat": stats.chat,
                "embeddings": stats.embeddings,
                "cancelled": stats.cancelled,
                "completed_streams": stats.completed_streams,
            }
        )

    async def reset(self, request: web.Request) -> web.Response:
        self.faults, self.stats = Faults(), Stats()
        return web.json_response({"ok": True})

    # --- running in a background thread (tests) -----------------------------------------------
    def start_in_thread(self, host: str = "127.0.0.1", port: int = 0) -> FakeBackend:
        ready = threading.Event()

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            self._runner = web.AppRunner(self.app, handle_signals=False, access_log=None)
            loop.run_until_complete(self._runner.setup())
            site = web.TCPSite(self._runner, host, port)
            loop.run_until_complete(site.start())
            self.port = self._runner.addresses[0][1]
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self._runner.cleanup())
            loop.close()

        self._thread = threading.Thread(target=run, name=f"fake-{self.name}", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("fake backend did not start")
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def stop(self) -> None:
        """Stop listening: from now on connections to its port are refused."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
            self._loop = None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9000)
    arguments = parser.parse_args()
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    web.run_app(FakeBackend().app, host=arguments.host, port=arguments.port, access_log=None, print=None)


if __name__ == "__main__":
    main()
