"""The REST client and poller, on the standard library only (urllib).

:class:`Poller` implements the Sessions API reference's three polling modes
with the safe cursor: each poll passes the previous response's ``lastUpdated``
as ``since`` (or its ``cursor`` as ``after``), never the client's clock, and
polling stops on any terminal status (completed, partial, failed, cancelled).
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Literal
from urllib.parse import quote, urlencode

from ._common import TERMINAL_STATUSES, TargetLike, backoff_delay, split_base_url, target_dict
from .errors import LivescanError, from_http_error

JSON = dict[str, Any]
PollMode = Literal["incremental", "progress", "full"]
CursorKind = Literal["since", "after"]

# Any report completed after the epoch: the first incremental poll returns all.
EPOCH = "1970-01-01T00:00:00Z"


class RestClient:
    """A REST client of one livescan server (``http://host:port``).

    Requests never go through a proxy from the environment. Responses are
    the server's JSON as dicts (camelCase keys, as in the OpenAPI document).
    Errors raise :class:`LivescanError`.
    """

    def __init__(self, base_url: str, api_key: str, *, timeout: float = 30.0) -> None:
        scheme, host, port = split_base_url(base_url)
        netloc = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        self.base_url = f"{scheme}://{netloc}"
        self.timeout = timeout
        self._headers = {
            "Authorization": f"Bearer {api_key}",
            "Accept": "application/json",
            "User-Agent": "livescan-client-python",
        }
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def request(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, str | int] | None = None,
        body: Mapping[str, Any] | None = None,
    ) -> JSON:
        """One request; returns the JSON body (``{}`` for an empty answer)."""
        url = self.base_url + path
        if query:
            url += "?" + urlencode({k: str(v) for k, v in query.items()})
        data = None
        headers = dict(self._headers)
        if body is not None:
            data = json.dumps(body).encode("utf-8")
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(url, data=data, headers=headers, method=method)
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                raw = response.read()
        except urllib.error.HTTPError as error:
            with error:
                payload = error.read()
            raise from_http_error(error.code, payload, error.headers.get("Retry-After")) from None
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            raise LivescanError("unavailable", f"{method} {url}: {reason}") from error
        if not raw:
            return {}
        try:
            parsed = json.loads(raw)
        except ValueError as error:
            raise LivescanError("invalid_response", f"{method} {url}: not JSON: {raw[:200]!r}") from error
        if not isinstance(parsed, dict):
            raise LivescanError("invalid_response", f"{method} {url}: expected a JSON object")
        return parsed

    # -- the routes ------------------------------------------------------

    def start(
        self,
        target: TargetLike,
        *,
        categories: Iterable[str] = (),
        tools: Iterable[str] = (),
        exclude_tools: Iterable[str] = (),
        timeout_ms: int | None = None,
        max_concurrent: int | None = None,
        enable_intelligence: bool | None = None,
    ) -> JSON:
        """POST /api/sessions; returns the 202 body (``sessionId``, ``pollUrls``, ``cursor``, ...)."""
        body: JSON = {"target": target_dict(target)}
        if categories := list(categories):
            body["categories"] = categories
        if tools := list(tools):
            body["tools"] = tools
        if exclude_tools := list(exclude_tools):
            body["excludeTools"] = exclude_tools
        if timeout_ms is not None:
            body["timeout"] = timeout_ms
        if max_concurrent is not None:
            body["maxConcurrent"] = max_concurrent
        if enable_intelligence is not None:
            body["enableIntelligence"] = enable_intelligence
        return self.request("POST", "/api/sessions", body=body)

    def get(
        self,
        session_id: str,
        *,
        progress: bool = False,
        since: str | None = None,
        after: int | None = None,
    ) -> JSON:
        """GET /api/sessions/{id}: full, ``progress=True``, ``since=<lastUpdated>`` or ``after=<cursor>``."""
        query: dict[str, str | int] = {}
        if progress:
            query["progress"] = "true"
        if since is not None:
            query["since"] = since
        if after is not None:
            query["after"] = after
        return self.request("GET", f"/api/sessions/{quote(session_id, safe='')}", query=query)

    def cancel(self, session_id: str) -> JSON:
        return self.request("POST", f"/api/sessions/{quote(session_id, safe='')}/cancel")

    def list_sessions(self, limit: int = 20, before: str | None = None) -> JSON:
        """Your sessions, newest first; pass a page's ``nextBefore`` as ``before``."""
        query: dict[str, str | int] = {"limit": limit}
        if before is not None:
            query["before"] = before
        return self.request("GET", "/api/sessions", query=query)

    def tools(self) -> JSON:
        return self.request("GET", "/api/tools")

    def account(self) -> JSON:
        return self.request("GET", "/api/account")

    def poll(
        self,
        session_id: str,
        mode: PollMode = "incremental",
        *,
        interval: float = 2.0,
        cursor: CursorKind = "since",
        max_retries: int = 5,
        timeout: float | None = None,
    ) -> Poller:
        """A :class:`Poller` over this session; iterate it for the new reports."""
        return Poller(
            self, session_id, mode, interval=interval, cursor=cursor, max_retries=max_retries, timeout=timeout
        )


class Poller:
    """Polls one session and yields each finished tool report once.

    Modes (the Sessions API reference's three):

    - ``incremental``: ``?since=<previous lastUpdated>`` (or, with
      ``cursor="after"``, ``?after=<previous cursor>``); yields ``newReports``.
    - ``progress``: cheap ``?progress=true`` polls; when the session's cursor
      moved, one incremental request fetches the new reports.
    - ``full``: the whole session each time; yields the reports not seen yet.

    Iteration ends after the first response with a terminal status. Then
    :attr:`status`, :attr:`progress` and :attr:`last_response` describe the end;
    :meth:`session` fetches the full final session (summary, refund). A 429
    or a failed connection is retried (``max_retries`` in a row at most).
    With ``timeout`` (seconds), a session still running after that long
    raises :class:`LivescanError` with code ``timeout``.
    """

    def __init__(
        self,
        client: RestClient,
        session_id: str,
        mode: PollMode = "incremental",
        *,
        interval: float = 2.0,
        cursor: CursorKind = "since",
        max_retries: int = 5,
        timeout: float | None = None,
    ) -> None:
        if mode not in ("incremental", "progress", "full"):
            raise ValueError(f"mode must be incremental, progress or full, not {mode!r}")
        if cursor not in ("since", "after"):
            raise ValueError(f"cursor must be since or after, not {cursor!r}")
        self.client = client
        self.session_id = session_id
        self.mode = mode
        self.interval = interval
        self.cursor_kind = cursor
        self.max_retries = max_retries
        self.timeout = timeout
        self.status: str | None = None
        self.progress: JSON = {}
        self.last_response: JSON = {}
        self.polls = 0  # requests made, retries included
        self._since = EPOCH  # lastUpdated of the newest response whose reports were taken
        self._after = 0  # cursor of the same response

    @property
    def done(self) -> bool:
        return self.status in TERMINAL_STATUSES

    def session(self) -> JSON:
        """The full session as it is now (after iteration: its final state)."""
        return self.client.get(self.session_id)

    def __iter__(self) -> Iterator[JSON]:
        seen: set[str] = set()  # full mode only: tool names already yielded
        deadline = None if self.timeout is None else time.monotonic() + self.timeout
        first = True
        while not self.done:
            if not first:
                if deadline is not None and time.monotonic() + self.interval > deadline:
                    raise LivescanError(
                        "timeout",
                        f"session {self.session_id} still {self.status} after {self.timeout} s of polling",
                    )
                time.sleep(self.interval)
            first = False
            if self.mode == "full":
                response = self._get()
                reports = [
                    r
                    for r in (response.get("toolReports") or {}).values()
                    if r.get("completedAt") and r.get("toolName") not in seen
                ]
                reports.sort(key=lambda r: str(r.get("completedAt")))
                seen.update(str(r.get("toolName")) for r in reports)
            elif self.mode == "progress":
                response = self._get(progress=True)
                reports = []
                if int(response.get("cursor") or 0) > self._after:
                    # Something happened since the reports we hold: fetch what is new.
                    # The incremental answer is at least as new as the progress one,
                    # so its status (terminal or not) covers every report it returns.
                    response = self._incremental()
                    reports = list(response.get("newReports") or [])
            else:
                response = self._incremental()
                reports = list(response.get("newReports") or [])
            self.last_response = response
            self.status = str(response.get("status"))
            self.progress = dict(response.get("progress") or {})
            yield from reports

    def _incremental(self) -> JSON:
        if self.cursor_kind == "after":
            response = self._get(after=self._after)
        else:
            response = self._get(since=self._since)
        # The safe cursor: what the server says it reflected, not our clock.
        self._since = str(response.get("lastUpdated") or self._since)
        self._after = int(response.get("cursor") or self._after)
        return response

    def _get(self, **kwargs: Any) -> JSON:
        failures = 0
        while True:
            self.polls += 1
            try:
                return self.client.get(self.session_id, **kwargs)
            except LivescanError as error:
                if error.code not in ("rate_limited", "unavailable") or failures >= self.max_retries:
                    raise
                failures += 1
                delay = backoff_delay(failures, max(self.interval, 0.1), 10.0)
                time.sleep(max(delay, error.retry_after or 0.0))
