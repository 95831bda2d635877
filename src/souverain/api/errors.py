"""Rendering every error once, in OpenAI's envelope `{"error": {message, type, param, code}}`."""

from __future__ import annotations

import logging

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException

from souverain.errors import InvalidRequest, SouverainError

log = logging.getLogger("souverain.api")

_HTTP_TYPES = {401: "authentication_error", 403: "permission_error", 404: "not_found_error"}
_HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 413: "request_too_large"}


def json_response(body: object, status: int, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), status_code=status, headers=headers, media_type="application/json")


def render(error: SouverainError) -> Response:
    return json_response(error.envelope(), error.http_status, error.headers())


def _envelope(status: int, message: str, code: str, param: str | None = None) -> Response:
    error_type = _HTTP_TYPES.get(status, "invalid_request_error" if status < 500 else "api_error")
    body = {"error": {"message": message, "type": error_type, "param": param, "code": code}}
    return json_response(body, status)


def validation_error(error: RequestValidationError | Exception) -> InvalidRequest:
    """Turn pydantic's list of errors into one message naming each field to fix."""
    errors = error.errors() if hasattr(error, "errors") else []
    parts = []
    for item in errors[:5]:
        location = ".".join(str(part) for part in item.get("loc", ()) if part != "body")
        parts.append(f"{location or 'body'}: {item.get('msg', 'invalid')}")
    first = ".".join(str(part) for part in errors[0].get("loc", ()) if part != "body") if errors else None
    return InvalidRequest("invalid request: " + "; ".join(parts or ["malformed body"]), param=first or None)


def install(app: FastAPI) -> None:
    @app.exception_handler(SouverainError)
    async def souverain_error(request: Request, error: SouverainError) -> Response:
        return render(error)

    @app.exception_handler(RequestValidationError)
    async def request_validation(request: Request, error: RequestValidationError) -> Response:
        return render(validation_error(error))

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, error: HTTPException) -> Response:
        code = _HTTP_CODES.get(error.status_code, "http_error")
        response = _envelope(error.status_code, str(error.detail), code)
        response.headers.update(error.headers or {})  # e.g. Allow on a 405
        return response

    @app.exception_handler(Exception)
    async def unexpected(request: Request, error: Exception) -> Response:
        # A bug: logged with its type only (messages may hold request content), shown as a generic 500.
        log.error("unhandled error", extra={"error_type": type(error).__name__}, exc_info=error)
        return _envelope(500, "internal error; the request id identifies it in the logs", "internal_error")
