"""The gRPC client: start, watch (with transparent resume), reports, get, cancel, tools, account."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any, Literal, NamedTuple, cast

import grpc
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from livescan.v1 import session_service_pb2 as pb
from livescan.v1 import session_service_pb2_grpc as pb_grpc

from ._common import CATEGORIES, TargetLike, backoff_delay, split_base_url, target_dict
from .errors import LivescanError, from_rpc_error, has_error_metadata, make_error

_CATEGORY_ENUM: dict[str, int] = {
    "security": pb.CATEGORY_SECURITY,
    "code-quality": pb.CATEGORY_CODE_QUALITY,
    "accessibility": pb.CATEGORY_ACCESSIBILITY,
    "performance": pb.CATEGORY_PERFORMANCE,
}

_VIEWS: dict[str, int] = {
    "full": pb.VIEW_FULL,
    "progress": pb.VIEW_PROGRESS,
    "incremental": pb.VIEW_INCREMENTAL,
}

TERMINAL_SESSION_STATUSES = frozenset(
    {
        pb.SESSION_STATUS_COMPLETED,
        pb.SESSION_STATUS_PARTIAL,
        pb.SESSION_STATUS_FAILED,
        pb.SESSION_STATUS_CANCELLED,
    }
)

# A tool report with one of these statuses is final.
_FINISHED_TOOL_STATUSES = frozenset(
    {pb.TOOL_STATUS_COMPLETED, pb.TOOL_STATUS_FAILED, pb.TOOL_STATUS_SKIPPED}
)

# Transport-level failures: the stream broke, not the server's answer.
_RETRYABLE = frozenset({grpc.StatusCode.UNAVAILABLE})
_RETRYABLE_WITHOUT_BODY = frozenset({grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN})

# Reconnect quickly after a dropped connection: the watch retries itself.
_DEFAULT_CHANNEL_OPTIONS: list[tuple[str, object]] = [
    ("grpc.enable_http_proxy", 0),
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 2000),
    # Whatever the server sends: a session's snapshot can pass gRPC's 4 MiB default.
    ("grpc.max_receive_message_length", -1),
]


class Started(NamedTuple):
    """What StartSession returned."""

    session_id: str
    scan_id: str
    session: pb.Session


def _category(value: str | int) -> int:
    if isinstance(value, int):
        return value
    try:
        return _CATEGORY_ENUM[value]
    except KeyError:
        raise ValueError(f"unknown category {value!r}; valid: {', '.join(CATEGORIES)}") from None


def is_terminal(status: int) -> bool:
    """True for COMPLETED, PARTIAL, FAILED and CANCELLED."""
    return status in TERMINAL_SESSION_STATUSES


class Client:
    """A gRPC client of one livescan server.

    ``base_url`` is the server's address as for REST (``http://127.0.0.1:8080``;
    ``https://`` uses TLS). The channel never goes through a proxy from the
    environment. Use as a context manager, or call :meth:`close`.

    ``watch`` resumes a broken stream up to ``max_retries`` times in a row,
    waiting ``backoff`` seconds, doubling up to ``max_backoff``, between tries.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: float | None = 30.0,
        max_retries: int = 8,
        backoff: float = 0.2,
        max_backoff: float = 5.0,
        channel_options: Sequence[tuple[str, object]] = (),
        on_reconnect: Callable[[int, LivescanError], None] | None = None,
    ) -> None:
        scheme, host, port = split_base_url(base_url)
        address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        overridden = {name for name, _ in channel_options}
        options = [o for o in _DEFAULT_CHANNEL_OPTIONS if o[0] not in overridden] + list(channel_options)
        if scheme == "https":
            self._channel = grpc.secure_channel(address, grpc.ssl_channel_credentials(), options=options)
        else:
            self._channel = grpc.insecure_channel(address, options=options)
        self._stub = pb_grpc.SessionServiceStub(self._channel)  # type: ignore[no-untyped-call]
        self._metadata = (("authorization", f"Bearer {api_key}"),)
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.on_reconnect = on_reconnect
        self.reconnects = 0  # how many times watch() has resumed a broken stream

    # -- lifecycle -------------------------------------------------------

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def stub(self) -> pb_grpc.SessionServiceStub:
        """The generated stub, for calls this class does not wrap (pass :attr:`metadata`)."""
        return self._stub

    @property
    def metadata(self) -> tuple[tuple[str, str], ...]:
        return self._metadata

    # -- unary calls -----------------------------------------------------

    def _unary(self, method: Callable[..., Any], request: Message) -> Any:
        try:
            return method(request, metadata=self._metadata, timeout=self.timeout)
        except grpc.RpcError as error:
            raise from_rpc_error(error) from None

    def start(
        self,
        target: TargetLike | pb.Target,
        *,
        categories: Iterable[str | int] = (),
        tools: Iterable[str] = (),
        exclude_tools: Iterable[str] = (),
        timeout_ms: int | None = None,
        max_concurrent: int | None = None,
        enable_intelligence: bool | None = None,
    ) -> Started:
        """Starts a session; returns its id, scan id and initial state.

        ``target``: a URL, a directory on the server, a list of URLs, a dict
        in the REST shape (``{"url": ...}``, ``{"urls": [...]}``,
        ``{"directory": ...}``, or ``{"upload": "upl-..."}`` for an archive
        sent with ``UploadArchive``), or a ``Target`` message. ``categories``
        take the REST spelling (``"code-quality"``) or ``Category`` values.
        """
        if not isinstance(target, pb.Target):
            shape = target_dict(target)
            target = pb.Target(
                url=str(shape.get("url", "")),
                urls=list(shape.get("urls", [])),  # type: ignore[call-overload]
                directory=str(shape.get("directory", "")),
                upload=str(shape.get("upload", "")),
            )
        request = pb.StartSessionRequest(
            target=target,
            categories=[_category(c) for c in categories],  # type: ignore[misc]
            tools=list(tools),
            exclude_tools=list(exclude_tools),
        )
        if timeout_ms is not None:
            request.timeout_ms = timeout_ms
        if max_concurrent is not None:
            request.max_concurrent = max_concurrent
        if enable_intelligence is not None:
            request.enable_intelligence = enable_intelligence
        response = cast(pb.StartSessionResponse, self._unary(self._stub.StartSession, request))
        return Started(response.session_id, response.scan_id, response.session)

    def get(
        self,
        session_id: str,
        view: Literal["full", "progress", "incremental"] = "full",
        *,
        after_seq: int | None = None,
        since: Timestamp | datetime | None = None,
    ) -> pb.GetSessionResponse:
        """Reads a session. For ``incremental``, pass the previous response's
        ``session.cursor`` as ``after_seq`` (or its ``last_updated`` as ``since``)."""
        request = pb.GetSessionRequest(session_id=session_id, view=_VIEWS[view])  # type: ignore[arg-type]
        if after_seq is not None:
            request.after_seq = after_seq
        if since is not None:
            if isinstance(since, datetime):
                request.since.FromDatetime(since)
            else:
                request.since.CopyFrom(since)
        return cast(pb.GetSessionResponse, self._unary(self._stub.GetSession, request))

    def cancel(self, session_id: str) -> pb.Session:
        """Cancels a running session; returns its state after the cancel was recorded."""
        request = pb.CancelSessionRequest(session_id=session_id)
        return cast(pb.CancelSessionResponse, self._unary(self._stub.CancelSession, request)).session

    def list_sessions(self, limit: int = 20) -> pb.ListSessionsResponse:
        """The caller's sessions, newest first."""
        request = pb.ListSessionsRequest(limit=limit)
        return cast(pb.ListSessionsResponse, self._unary(self._stub.ListSessions, request))

    def tools(self) -> list[pb.Tool]:
        """The server's tool catalog."""
        response = cast(pb.ListToolsResponse, self._unary(self._stub.ListTools, pb.ListToolsRequest()))
        return list(response.tools)

    def account(self) -> pb.GetAccountResponse:
        """The caller's balance and newest ledger entries."""
        return cast(pb.GetAccountResponse, self._unary(self._stub.GetAccount, pb.GetAccountRequest()))

    # -- watch -----------------------------------------------------------

    def watch(
        self,
        session_id: str,
        after_seq: int | None = None,
        *,
        include_heartbeats: bool = False,
    ) -> Iterator[pb.WatchSessionResponse]:
        """Yields a session's WatchSession messages until it finishes.

        Without ``after_seq`` the first message is a ``snapshot``; with it,
        the events after that sequence number. A stream broken by the network
        (UNAVAILABLE or another transport error) is resumed with the last seq
        received, so every event is yielded once, in order, without gaps. The
        generator ends after ``session_finished``, or after the ``narrative``
        it announces with ``narrative_follows`` (or after a snapshot of a
        session that had already finished). Heartbeats are skipped unless
        ``include_heartbeats``. Errors the server answers (not found, refused
        key, ...) raise :class:`LivescanError` at once; so does a connection
        that stays broken for ``max_retries`` tries in a row.
        """
        cursor = after_seq
        failures = 0
        while True:
            request = pb.WatchSessionRequest(session_id=session_id)
            if cursor is not None:
                request.after_seq = cursor
            call = self._stub.WatchSession(request, metadata=self._metadata)
            try:
                for message in call:
                    failures = 0
                    kind = message.WhichOneof("event")
                    if kind == "heartbeat":
                        if include_heartbeats:
                            yield message
                        continue
                    if cursor is not None and message.seq <= cursor:
                        continue  # already yielded before a reconnect
                    cursor = message.seq
                    yield message
                    if kind == "session_finished" and not message.session_finished.narrative_follows:
                        return
                    if kind == "narrative" or (
                        kind == "snapshot" and is_terminal(message.snapshot.status)
                    ):
                        return
                # The stream ended with OK but without the final event: either
                # the session had already finished (nothing after `cursor`) or
                # the server went away gracefully. Ask which.
                if self._finished_at(session_id, cursor):
                    return
                failure = LivescanError("unavailable", "the watch stream ended before session_finished")
            except grpc.RpcError as error:
                failure = from_rpc_error(error)
                if not self._retryable(error):
                    raise failure from None
            finally:
                call.cancel()
            failures += 1
            if failures > self.max_retries:
                raise make_error(
                    failure.code,
                    f"watch of {session_id} gave up after {self.max_retries} reconnects: {failure.message}",
                    details=failure.details,
                    http_status=failure.http_status,
                    grpc_status=failure.grpc_status,
                    retry_after=failure.retry_after,
                ) from None
            self.reconnects += 1
            if self.on_reconnect is not None:
                self.on_reconnect(failures, failure)
            delay = backoff_delay(failures, self.backoff, self.max_backoff)
            if failure.retry_after is not None:
                delay = max(delay, failure.retry_after)
            time.sleep(delay)

    def reports(self, session_id: str) -> Iterator[pb.ToolReport]:
        """Yields every tool report of a session exactly once, until it finishes.

        First the reports that had already finished (completed, failed or
        skipped) in the snapshot, in the order they finished, then each
        ``tool_finished`` event as it arrives. It is built on :meth:`watch`,
        so a dropped connection is resumed; it also remembers the tools it
        has yielded and never yields one twice. For a session that had
        already finished, it yields the snapshot's reports and ends. Errors
        are :class:`LivescanError`, as for :meth:`watch`.
        """
        yielded: set[str] = set()
        for message in self.watch(session_id):
            kind = message.WhichOneof("event")
            if kind == "snapshot":
                batch = sorted(
                    (r for r in message.snapshot.tool_reports if r.status in _FINISHED_TOOL_STATUSES),
                    key=lambda r: (r.completed_at.seconds, r.completed_at.nanos),
                )
            elif kind == "tool_finished":
                batch = [message.tool_finished]
            else:
                continue
            for report in batch:
                if report.tool_name in yielded:
                    continue
                yielded.add(report.tool_name)
                yield report

    @staticmethod
    def _retryable(error: grpc.RpcError) -> bool:
        code = error.code() if hasattr(error, "code") else None
        if code in _RETRYABLE or code == grpc.StatusCode.RESOURCE_EXHAUSTED:
            return True
        return code in _RETRYABLE_WITHOUT_BODY and not has_error_metadata(error)

    def _finished_at(self, session_id: str, cursor: int | None) -> bool:
        """True when the session is finished and ``cursor`` covers its last event."""
        try:
            session = self.get(session_id, "progress").session
        except LivescanError as error:
            if error.code in ("unavailable", "rate_limited"):
                return False
            raise
        return is_terminal(session.status) and cursor is not None and cursor >= session.cursor
