"""Pure ASGI middleware (cheaper than Starlette's BaseHTTPMiddleware on the hot path): request ids,
the body size limit, and one JSON access-log line per request."""

from __future__ import annotations

import logging
import os
import re
import time
from typing import Any

import orjson
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from souverain.errors import RequestTooLarge

access_log = logging.getLogger("souverain.access")
_REQUEST_ID = re.compile(rb"^[A-Za-z0-9._:-]{1,64}$")


class GatewayMiddleware:
    def __init__(
        self, app: ASGIApp, *, max_body_bytes: int, max_upload_bytes: int, log_requests: bool
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.max_upload_bytes = max_upload_bytes  # document uploads have their own, larger limit
        self.log_requests = log_requests

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = _request_id(scope)
        scope.setdefault("state", {})["request_id"] = request_id.decode()
        outcome: dict[str, Any] = {"status": 500}

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                outcome["status"] = message["status"]
                outcome["headers"] = message.setdefault("headers", [])
                message["headers"].append((b"x-request-id", request_id))
            await send(message)

        limit = self.max_upload_bytes if _is_upload(scope) else self.max_body_bytes
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _reject_too_large(limit, send_with_id)
        else:
            await self.app(scope, self._limited(receive, limit), send_with_id)
        if self.log_requests:
            self._log(scope, request_id, outcome, started)

    def _limited(self, receive: Receive, limit: int) -> Receive:
        """Count the bytes of bodies sent without a Content-Length (chunked)."""
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    # An HTTPException, because FastAPI turns any other error raised while it reads a
                    # body into a generic 400.
                    raise HTTPException(413, f"the body is larger than the limit of {limit} bytes")
            return message

        return limited_receive

    def _log(self, scope: Scope, request_id: bytes, outcome: dict[str, Any], started: float) -> None:
        state = scope.get("state", {})
        principal = state.get("principal")
        backend = next(
            (value for name, value in outcome.get("headers", ()) if name == b"x-souverain-backend"), None
        )
        record = {
            "request_id": request_id.decode(),
            "method": scope["method"],
            "path": scope["path"],
            "status": outcome["status"],
            "duration_ms": round((time.perf_counter() - started) * 1000, 2),
            "tenant": principal.tenant.name if principal else None,
            "key": principal.key_id if principal else None,
            "backend": backend.decode() if isinstance(backend, bytes) else backend,
        }
        access_log.info("request", extra={"fields": record})


def _is_upload(scope: Scope) -> bool:
    path: str = scope["path"]
    return scope["method"] == "POST" and path.startswith("/v1/collections/") and path.endswith("/documents")


def _request_id(scope: Scope) -> bytes:
    for name, value in scope["headers"]:
        if name == b"x-request-id" and _REQUEST_ID.match(value):
            return bytes(value)
    return os.urandom(12).hex().encode()


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _reject_too_large(limit: int, send: Send) -> None:
    error = RequestTooLarge(f"the body is larger than the limit of {limit} bytes")
    body = orjson.dumps(error.envelope())
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": error.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
