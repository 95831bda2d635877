"""Every error souverain raises, each with its HTTP status and OpenAI-style envelope.

Services raise these; only the HTTP layer renders them (``api/errors.py``). Messages name what to fix
and never contain secrets or values of personal data.

    SouverainError                      500 api_error
    ├── ConfigError                     (start-up only: the deployment file or settings are invalid)
    ├── InvalidRequest                  400 invalid_request_error
    │   └── RequestTooLarge             413
    ├── AuthenticationFailed            401 authentication_error
    ├── PermissionDenied                403 permission_error
    │   ├── ResidencyViolation          403 code=residency_violation
    │   ├── ClassificationViolation     403 code=classification_violation
    │   └── PersonalDataBlocked         403 code=personal_data_blocked (names the types, never values)
    ├── NotFound                        404 not_found_error
    │   └── ModelNotFound               404 code=model_not_found
    ├── Conflict                        409
    ├── PersonalDataInOutput            422 code=personal_data_in_output (the model's answer, withheld)
    ├── RateLimited                     429 rate_limit_error (carries retry_after)
    ├── UpstreamRejected                4xx from a backend, passed through with its message
    ├── BackendUnavailable              503 code=no_backend_available
    └── AuditUnavailable                503 code=audit_unavailable (nothing is answered unrecorded)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar


class SouverainError(Exception):
    status: ClassVar[int] = 500
    type: ClassVar[str] = "api_error"
    default_code: ClassVar[str] = "internal_error"

    def __init__(self, message: str, *, code: str | None = None, param: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code
        self.param = param

    def envelope(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}

    @property
    def http_status(self) -> int:
        return self.status

    def headers(self) -> dict[str, str]:
        return {}


@dataclass(frozen=True)
class Problem:
    """One thing wrong in a configuration: where (a key path) and what."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class ConfigError(SouverainError):
    default_code = "invalid_configuration"

    def __init__(self, source: str, problems: list[Problem]) -> None:
        self.source = source
        self.problems = problems
        lines = "\n".join(f"  {problem}" for problem in problems)
        super().__init__(f"{source}: {len(problems)} problem(s)\n{lines}")


class InvalidRequest(SouverainError):
    status = 400
    type = "invalid_request_error"
    default_code = "invalid_request"


class RequestTooLarge(InvalidRequest):
    status = 413
    default_code = "request_too_large"


class AuthenticationFailed(SouverainError):
    status = 401
    type = "authentication_error"
    default_code = "invalid_api_key"

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": "Bearer"}


class PermissionDenied(SouverainError):
    status = 403
    type = "permission_error"
    default_code = "permission_denied"


class ResidencyViolation(PermissionDenied):
    default_code = "residency_violation"


class ClassificationViolation(PermissionDenied):
    default_code = "classification_violation"


def _types(types: Sequence[str]) -> str:
    return ", ".join(types)


class PersonalDataBlocked(PermissionDenied):
    """The tenant's policy blocks a type of personal data found in the request: nothing was sent.

    A policy refusal like residency's, hence 403. The message names the types, never the values."""

    default_code = "personal_data_blocked"

    def __init__(
        self, types: Sequence[str], personal_data: tuple[str, ...] = (), *, param: str = "messages"
    ) -> None:
        super().__init__(
            f"the request holds personal data of a type this tenant's policy blocks ({_types(types)}): "
            "remove it and send the request again",
            param=param,
        )
        self.types = tuple(types)
        self.personal_data = personal_data  # "TYPE:action" of everything found, for the audit record


class PersonalDataInOutput(SouverainError):
    """The model's answer holds personal data the input did not, of a type the tenant's output policy
    blocks: the answer is withheld.

    422 rather than a 5xx: nothing failed, and clients retry a 5xx on their own, which would run the
    same prompt again for an answer likely to be withheld again."""

    status = 422
    type = "invalid_request_error"
    default_code = "personal_data_in_output"

    def __init__(self, types: Sequence[str]) -> None:
        super().__init__(
            f"the model's answer held personal data of a type this tenant's output policy blocks "
            f"({_types(types)}); it was withheld"
        )
        self.types = tuple(types)


class NotFound(SouverainError):
    status = 404
    type = "not_found_error"
    default_code = "not_found"


class ModelNotFound(NotFound):
    type = "invalid_request_error"
    default_code = "model_not_found"


class Conflict(SouverainError):
    status = 409
    type = "invalid_request_error"
    default_code = "conflict"


class Gone(SouverainError):
    status = 410
    type = "invalid_request_error"
    default_code = "gone"


class RateLimited(SouverainError):
    status = 429
    type = "rate_limit_error"
    default_code = "rate_limit_exceeded"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = max(1, retry_after)

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


class UpstreamRejected(SouverainError):
    """A backend refused the request as invalid (a 4xx): the caller must change it, not us."""

    type = "invalid_request_error"
    default_code = "upstream_rejected"

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.upstream_status = status

    @property
    def http_status(self) -> int:
        return self.upstream_status


class BackendUnavailable(SouverainError):
    status = 503
    type = "service_unavailable_error"
    default_code = "no_backend_available"


class AuditUnavailable(SouverainError):
    """The audit log could not make a record durable: the response it would describe is not sent."""

    status = 503
    type = "service_unavailable_error"
    default_code = "audit_unavailable"
