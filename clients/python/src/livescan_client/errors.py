"""One error type for REST and gRPC failures, carrying the server's error body.

The server answers REST errors as ``{"error": {"code", "message", "details"}}``
and puts the same ``code``/``details`` as JSON into the ``livescan-error-bin``
metadata of gRPC errors; both become a :class:`LivescanError` (or one of its
subclasses for the statuses a caller usually handles).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

import grpc

# The REST error codes and their HTTP statuses, as the server pairs them.
HTTP_STATUS_BY_CODE: dict[str, int] = {
    "invalid_argument": 400,
    "unauthenticated": 401,
    "insufficient_credits": 402,
    "not_found": 404,
    "rate_limited": 429,
    "internal": 500,
    "unavailable": 503,
}

# Used when a gRPC error carries no livescan-error-bin (a transport failure).
_CODE_BY_GRPC_STATUS: dict[grpc.StatusCode, str] = {
    grpc.StatusCode.INVALID_ARGUMENT: "invalid_argument",
    grpc.StatusCode.UNAUTHENTICATED: "unauthenticated",
    grpc.StatusCode.NOT_FOUND: "not_found",
    grpc.StatusCode.RESOURCE_EXHAUSTED: "rate_limited",
    grpc.StatusCode.INTERNAL: "internal",
    grpc.StatusCode.UNAVAILABLE: "unavailable",
}

ERROR_METADATA_KEY = "livescan-error-bin"


class LivescanError(Exception):
    """A request the server refused or that could not reach it.

    Attributes:
        code: the REST error code (``unauthenticated``, ``insufficient_credits``,
            ``not_found``, ``rate_limited``, ``invalid_argument``, ...).
        message: the server's human-readable message.
        details: structured details (``required``/``balance`` for 402,
            ``retryAfterMs`` for 429, ``field``/``valid`` for 400).
        http_status: the HTTP status (for gRPC errors, the status the REST API
            gives the same error), or None when unknown.
        grpc_status: the gRPC status code, for gRPC errors.
        retry_after: seconds to wait before retrying, for 429.
    """

    def __init__(
        self,
        code: str,
        message: str,
        *,
        details: Mapping[str, Any] | None = None,
        http_status: int | None = None,
        grpc_status: grpc.StatusCode | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details: dict[str, Any] = dict(details or {})
        self.http_status = http_status
        self.grpc_status = grpc_status
        self.retry_after = retry_after

    def __str__(self) -> str:
        where = []
        if self.http_status is not None:
            where.append(f"HTTP {self.http_status}")
        if self.grpc_status is not None:
            where.append(f"gRPC {self.grpc_status.name}")
        prefix = f"{self.code} ({', '.join(where)})" if where else self.code
        return f"{prefix}: {self.message}"

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(code={self.code!r}, message={self.message!r}, "
            f"details={self.details!r}, http_status={self.http_status!r}, "
            f"grpc_status={self.grpc_status!r})"
        )


class InvalidArgument(LivescanError):
    """400 / INVALID_ARGUMENT: the request was malformed; ``details.field`` says where."""


class Unauthenticated(LivescanError):
    """401 / UNAUTHENTICATED: the API key is missing, malformed, unknown, revoked or expired."""


class InsufficientCredits(LivescanError):
    """402 / FAILED_PRECONDITION: ``details.required`` credits needed, ``details.balance`` available."""


class NotFound(LivescanError):
    """404 / NOT_FOUND: no such session for this account."""


class RateLimited(LivescanError):
    """429 / RESOURCE_EXHAUSTED: too many requests; wait ``retry_after`` seconds."""


_CLASS_BY_CODE: dict[str, type[LivescanError]] = {
    "invalid_argument": InvalidArgument,
    "unauthenticated": Unauthenticated,
    "insufficient_credits": InsufficientCredits,
    "not_found": NotFound,
    "rate_limited": RateLimited,
}


def make_error(code: str, message: str, **kwargs: Any) -> LivescanError:
    """The LivescanError subclass that matches ``code``."""
    return _CLASS_BY_CODE.get(code, LivescanError)(code, message, **kwargs)


def _parse_seconds(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


def _metadata(call: grpc.RpcError) -> dict[str, str | bytes]:
    found: dict[str, str | bytes] = {}
    for getter in ("initial_metadata", "trailing_metadata"):
        method = getattr(call, getter, None)
        if method is None:
            continue
        try:
            entries = method() or ()
        except Exception:  # noqa: BLE001 (a call without metadata)
            continue
        for key, value in entries:
            found.setdefault(key, value)
    return found


def from_rpc_error(error: grpc.RpcError) -> LivescanError:
    """Turns a gRPC error into a LivescanError, decoding ``livescan-error-bin``."""
    status: grpc.StatusCode | None = error.code() if hasattr(error, "code") else None
    message: str = (error.details() if hasattr(error, "details") else None) or str(error)
    metadata = _metadata(error)
    code: str | None = None
    details: dict[str, Any] = {}
    raw = metadata.get(ERROR_METADATA_KEY)
    if raw is not None:
        try:
            body = json.loads(raw if isinstance(raw, (bytes, str)) else bytes(raw))
        except ValueError:
            body = None
        if isinstance(body, dict):
            if isinstance(body.get("code"), str):
                code = body["code"]
            if isinstance(body.get("details"), dict):
                details = body["details"]
    if code is None:
        fallback = status.name.lower() if status is not None else "unknown"
        code = _CODE_BY_GRPC_STATUS.get(status, fallback) if status is not None else fallback
    retry = metadata.get("retry-after")
    retry_after = _parse_seconds(retry.decode() if isinstance(retry, bytes) else retry)
    if retry_after is None and isinstance(details.get("retryAfterMs"), (int, float)):
        retry_after = details["retryAfterMs"] / 1000
    return make_error(
        code,
        message,
        details=details,
        http_status=HTTP_STATUS_BY_CODE.get(code),
        grpc_status=status,
        retry_after=retry_after,
    )


def has_error_metadata(error: grpc.RpcError) -> bool:
    """True when the server itself produced this error (it always attaches the body)."""
    return ERROR_METADATA_KEY in _metadata(error)


def from_http_error(status: int, body: bytes, retry_after_header: str | None) -> LivescanError:
    """Turns a REST error response into a LivescanError."""
    code = f"http_{status}"
    message = f"HTTP {status}"
    details: dict[str, Any] = {}
    try:
        parsed = json.loads(body.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        parsed = None
    error = parsed.get("error") if isinstance(parsed, dict) else None
    if isinstance(error, dict):
        if isinstance(error.get("code"), str):
            code = error["code"]
        if isinstance(error.get("message"), str):
            message = error["message"]
        if isinstance(error.get("details"), dict):
            details = error["details"]
    elif body:
        message = f"HTTP {status}: {body[:200].decode('utf-8', 'replace')}"
    retry_after = _parse_seconds(retry_after_header)
    if retry_after is None and isinstance(details.get("retryAfterMs"), (int, float)):
        retry_after = details["retryAfterMs"] / 1000
    return make_error(code, message, details=details, http_status=status, retry_after=retry_after)
