"""Helpers shared by the gRPC and REST clients: targets, addresses, backoff."""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from typing import Union
from urllib.parse import urlsplit

# What `start` accepts as a target: "https://..." (one URL), a directory path,
# a list of URLs, or the REST shape {"url": ...} / {"urls": [...]} / {"directory": ...}
# / {"upload": "upl-..."} (the id of an uploaded archive).
TargetLike = Union[str, Sequence[str], Mapping[str, object]]

TERMINAL_STATUSES = frozenset({"completed", "partial", "failed", "cancelled"})

CATEGORIES = ("security", "code-quality", "accessibility", "performance")

# The kinds of target, as the REST API and the proto `Target` message name them.
TARGET_KEYS = ("url", "urls", "directory", "upload")


def target_dict(target: TargetLike) -> dict[str, object]:
    """Normalises a target to the REST shape with exactly one key."""
    if isinstance(target, str):
        if target.startswith(("http://", "https://")):
            return {"url": target}
        return {"directory": target}
    if isinstance(target, Mapping):
        keys = [k for k in TARGET_KEYS if target.get(k)]
        unknown = set(target) - set(TARGET_KEYS)
        if unknown or len(keys) != 1:
            raise ValueError(
                "target needs exactly one of url, urls, directory or upload"
                + (f"; unknown keys {sorted(unknown)}" if unknown else "")
            )
        key = keys[0]
        value = target[key]
        if key == "urls":
            if isinstance(value, str) or not isinstance(value, Sequence):
                raise ValueError("target.urls must be a list of URLs")
            return {"urls": [str(u) for u in value]}
        return {key: str(value)}
    if isinstance(target, Sequence):
        urls = [str(u) for u in target]
        if not urls:
            raise ValueError("target: an empty list of URLs")
        return {"urls": urls}
    raise TypeError(f"unsupported target {target!r}")


def split_base_url(base_url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of ``http://host:port`` / ``https://host``."""
    parts = urlsplit(base_url if "://" in base_url else f"http://{base_url}")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"base_url must look like http://host:port, got {base_url!r}")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError(f"base_url must have no path or query, got {base_url!r}")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return parts.scheme, parts.hostname, port


def backoff_delay(attempt: int, base: float, cap: float) -> float:
    """Exponential backoff with jitter for the attempt-th retry (1-based)."""
    delay: float = min(cap, base * 2.0 ** (attempt - 1))
    return delay * (0.75 + random.random() * 0.5)  # noqa: S311 (jitter, not crypto)
