"""The gRPC client against a real server: start, watch, resume after a dropped connection."""

from __future__ import annotations

import csv
import io
import tarfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from urllib.parse import urlsplit

import grpc
import pytest
from conftest import Env
from tcp_proxy import TcpProxy

from livescan_client import Client, LivescanError, RestClient, pb
from livescan_client._common import target_dict

PLANTED_TOOLS = ["secrets", "merge-conflicts"]


def expected_findings(env: Env, tools: list[str]) -> Counter[tuple[str, str, str, int]]:
    with open(env.fixtures / "dir-planted.expected.tsv", newline="") as f:
        rows = csv.DictReader(f, delimiter="\t")
        return Counter(
            (r["tool"], r["rule_id"], r["path_or_page"], int(r["line"])) for r in rows if r["tool"] in tools
        )


def kinds(messages: list[pb.WatchSessionResponse]) -> list[str]:
    return [str(m.WhichOneof("event")) for m in messages]


def assert_gap_free(messages: list[pb.WatchSessionResponse]) -> None:
    seqs = [m.seq for m in messages]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), f"gaps or repeats in seqs: {seqs}"


def test_start_and_watch_dir_planted(env: Env, client: Client) -> None:
    started = client.start(str(env.fixtures / "dir-planted"), tools=PLANTED_TOOLS)
    assert started.session_id.startswith("sess-")
    assert started.session.session_id == started.session_id
    assert started.session.progress.total == len(PLANTED_TOOLS)

    messages = list(client.watch(started.session_id))

    # A snapshot, then the events until session_finished; or, had the session
    # already finished when the watch began, the final snapshot alone.
    assert kinds(messages)[0] == "snapshot", kinds(messages)
    assert "heartbeat" not in kinds(messages)
    assert_gap_free(messages)
    snapshot = messages[0].snapshot
    if len(messages) == 1:
        assert snapshot.status == pb.SESSION_STATUS_COMPLETED, snapshot
        final_status, summary = snapshot.status, snapshot.summary
    else:
        assert kinds(messages)[-1] == "session_finished", kinds(messages)
        final_status = messages[-1].session_finished.status
        summary = messages[-1].session_finished.summary
    assert final_status == pb.SESSION_STATUS_COMPLETED
    reports = [r for r in snapshot.tool_reports if r.HasField("completed_at")]
    reports += [m.tool_finished for m in messages if m.WhichOneof("event") == "tool_finished"]
    assert sorted(r.tool_name for r in reports) == sorted(PLANTED_TOOLS)
    for message in messages:
        p = message.progress
        assert p.pending + p.running + p.completed + p.failed + p.skipped == p.total == len(PLANTED_TOOLS)

    found = Counter(
        (r.tool_name, f.rule_id, f.path, f.line) for r in reports for f in r.findings
    )
    assert found == expected_findings(env, PLANTED_TOOLS)

    # A `livescan:ignore` in the fixture: that finding is listed but not counted.
    counted = [
        (r.tool_name, f)
        for r in reports
        for f in r.findings
        if not (f.HasField("suppression") and not f.suppression.expired)
    ]
    assert summary.suppressed == sum(found.values()) - len(counted) == 1
    severities = Counter(f.severity for _, f in counted)
    assert summary.total_findings == len(counted) == sum(r.findings_count for r in reports)
    assert summary.critical == severities[pb.SEVERITY_CRITICAL] > 0
    assert summary.high == severities[pb.SEVERITY_HIGH] > 0
    assert summary.tools_run == len(PLANTED_TOOLS)
    assert dict(summary.by_category) == {
        "security": sum(1 for tool, _ in counted if tool == "secrets"),
        "code-quality": sum(1 for tool, _ in counted if tool == "merge-conflicts"),
    }

    # The unary views agree with what the stream delivered.
    full = client.get(started.session_id).session
    assert full.status == pb.SESSION_STATUS_COMPLETED
    assert full.summary == summary
    assert full.cursor == messages[-1].seq
    progress = client.get(started.session_id, "progress").session
    assert progress.progress.percentage == 100 and not progress.tool_reports
    incremental = client.get(started.session_id, "incremental", after_seq=messages[0].seq)
    assert sorted(r.tool_name for r in incremental.new_reports) == sorted(
        m.tool_finished.tool_name for m in messages if m.WhichOneof("event") == "tool_finished"
    )


def test_watch_after_seq_of_a_finished_session(env: Env, client: Client) -> None:
    started = client.start(str(env.fixtures / "dir-clean"), tools=["secrets"])
    live = list(client.watch(started.session_id))
    last = live[-1].seq
    if kinds(live) == ["snapshot"]:  # it had finished already
        assert live[0].snapshot.status == pb.SESSION_STATUS_COMPLETED
    else:
        assert kinds(live)[-1] == "session_finished", kinds(live)
        assert live[-1].session_finished.summary.total_findings == 0

    # Without after_seq: the final snapshot only.
    again = list(client.watch(started.session_id))
    assert kinds(again) == ["snapshot"] and again[0].seq == last
    assert again[0].snapshot.status == pb.SESSION_STATUS_COMPLETED
    # From the start of the log: every event once, ending with session_finished.
    replay = list(client.watch(started.session_id, after_seq=0))
    assert [m.seq for m in replay] == list(range(1, last + 1))
    assert kinds(replay)[0] == "session_started" and kinds(replay)[-1] == "session_finished"
    # After the final event: nothing, and the generator ends.
    assert list(client.watch(started.session_id, after_seq=last)) == []


def test_watch_resumes_after_dropped_connection(env: Env, client: Client) -> None:
    server = urlsplit(env.url)
    assert server.hostname and server.port
    proxy = TcpProxy(server.hostname, server.port)
    reconnects: list[tuple[int, LivescanError, float]] = []
    watcher = Client(
        proxy.url, env.api_key, backoff=0.1, on_reconnect=lambda n, e: reconnects.append((n, e, time.time()))
    )
    try:
        # http-headers fetches five slow pages (~0.8 s), then exposed-paths
        # probes the site (~0.6 s): the stream is cut between the two, and the
        # proxy refuses connections for 0.15 s, while the session runs on.
        tools = ["http-headers", "exposed-paths", "html-a11y", "security-txt", "page-weight"]
        started = client.start(env.slow_urls(5), tools=tools, max_concurrent=1)
        messages: list[pb.WatchSessionResponse] = []
        cut_at = None
        for message in watcher.watch(started.session_id):
            messages.append(message)
            if message.WhichOneof("event") == "tool_finished" and cut_at is None:
                proxy.refuse()
                assert proxy.cut() > 0, "no open connection to cut"
                cut_at = time.monotonic()
                threading.Timer(0.15, proxy.accept_again).start()
        assert cut_at is not None, f"no tool_finished before the end: {kinds(messages)}"
    finally:
        watcher.close()
        proxy.close()

    assert reconnects, "the cut did not break the stream"
    assert all(e.code == "unavailable" for _, e, _ in reconnects), reconnects
    assert watcher.reconnects == len(reconnects)
    assert proxy.accepted >= 2, "the watch never came back through the proxy"

    # One snapshot, first: the resumed stream continued after the last seq
    # instead of starting over.
    assert kinds(messages)[0] == "snapshot" and kinds(messages).count("snapshot") == 1, kinds(messages)
    assert kinds(messages)[-1] == "session_finished", kinds(messages)
    assert_gap_free(messages)
    finished_in_snapshot = [r.tool_name for r in messages[0].snapshot.tool_reports if r.HasField("completed_at")]
    streamed = [m.tool_finished.tool_name for m in messages if m.WhichOneof("event") == "tool_finished"]
    every = Counter(finished_in_snapshot + streamed)
    assert sorted(every) == sorted(tools) and set(every.values()) == {1}, every
    finished = messages[-1].session_finished
    assert finished.status == pb.SESSION_STATUS_COMPLETED, finished
    # The resume joined a live session: it ended after the last retry was scheduled.
    ended = messages[-1].time.ToNanoseconds() / 1e9
    assert ended > reconnects[-1][2], f"the session had ended {reconnects[-1][2] - ended:.3f} s before the resume"
    # The server's log agrees: the watch saw every event after the snapshot.
    assert client.get(started.session_id, "progress").session.cursor == messages[-1].seq


def test_watch_gives_up_after_max_retries(env: Env, client: Client) -> None:
    started = client.start(str(env.fixtures / "dir-clean"), tools=["secrets"])
    server = urlsplit(env.url)
    assert server.hostname and server.port
    proxy = TcpProxy(server.hostname, server.port)
    proxy.refuse()  # a server that stays unreachable
    watcher = Client(proxy.url, env.api_key, max_retries=2, backoff=0.05)
    try:
        with pytest.raises(LivescanError) as caught:
            list(watcher.watch(started.session_id))
    finally:
        watcher.close()
        proxy.close()
    assert caught.value.code == "unavailable" and caught.value.grpc_status == grpc.StatusCode.UNAVAILABLE
    assert "gave up after 2 reconnects" in caught.value.message
    assert watcher.reconnects == 2


def test_cancel_ends_the_watch_and_the_poll(env: Env, client: Client, rest: RestClient) -> None:
    tools = ["http-headers", "cookies"]
    started = client.start([f"{env.site}/hang"], tools=tools, max_concurrent=1)
    stream = client.watch(started.session_id)
    first = next(stream)
    assert first.WhichOneof("event") == "snapshot"
    cancelled = client.cancel(started.session_id)
    assert cancelled.session_id == started.session_id
    rest_of_it = list(stream)
    assert kinds(rest_of_it)[-1] == "session_finished", kinds(rest_of_it)
    assert "cancel_requested" in kinds(rest_of_it)
    assert rest_of_it[-1].session_finished.status == pb.SESSION_STATUS_CANCELLED
    assert_gap_free([first, *rest_of_it])
    reports = Counter(m.tool_finished.tool_name for m in rest_of_it if m.WhichOneof("event") == "tool_finished")
    assert sorted(reports) == sorted(tools) and set(reports.values()) == {1}, reports
    # Every tool's credit back, and the analysis', which a cancel leaves unmade.
    refund = rest_of_it[-1].session_finished.refund
    assert sorted(refund.tools_refunded) == sorted(tools) and refund.analysis_refunded
    assert refund.refunded_credits == len(tools) + 1

    poller = rest.poll(started.session_id, "progress", interval=0.05, timeout=30)
    assert sorted(r["toolName"] for r in poller) == sorted(tools)
    assert poller.status == "cancelled"


# One tool at a time over five slow pages, 400 ms per tool: reports finish one
# by one over about 1.5 s, and the session ends partial (two tools time out).
SLOW_TOOLS = ["security-txt", "http-headers", "html-a11y", "cookies", "exposed-paths", "page-weight"]


def start_slow(env: Env, client: Client) -> str:
    return client.start(env.slow_urls(5), tools=SLOW_TOOLS, max_concurrent=1, timeout_ms=400).session_id


def wait_half_done(client: Client, session_id: str) -> int:
    """Waits until some tools have finished and others not; returns how many had."""
    while True:
        p = client.get(session_id, "progress").session.progress
        done = p.completed + p.failed + p.skipped
        if done:
            assert done < p.total, "the session finished before the test could look"
            return done
        time.sleep(0.04)


def tap_snapshots(client: Client) -> list[pb.Session]:
    """Records the snapshots of ``client.watch`` (which ``reports`` builds on)."""
    snapshots: list[pb.Session] = []
    watch = client.watch

    def tapped(*args: object, **kwargs: object) -> Iterator[pb.WatchSessionResponse]:
        for message in watch(*args, **kwargs):  # type: ignore[arg-type]
            if message.WhichOneof("event") == "snapshot":
                snapshots.append(message.snapshot)
            yield message

    client.watch = tapped  # type: ignore[method-assign]
    return snapshots


def assert_every_report_once(client: Client, session_id: str, reports: list[pb.ToolReport]) -> None:
    """Each tool once, and the same reports as the session's final tool_reports."""
    names = [r.tool_name for r in reports]
    assert len(set(names)) == len(names), f"repeated: {names}"
    final = {r.tool_name: r for r in client.get(session_id).session.tool_reports}
    assert sorted(names) == sorted(final)
    for report in reports:
        last = final[report.tool_name]
        assert (report.status, report.findings_count, report.completed_at) == (
            last.status,
            last.findings_count,
            last.completed_at,
        ), report.tool_name


def test_reports_of_a_half_done_session(env: Env, client: Client) -> None:
    session_id = start_slow(env, client)
    done_before = wait_half_done(client, session_id)
    snapshots = tap_snapshots(client)

    reports = list(client.reports(session_id))

    assert len(reports) == len(SLOW_TOOLS)
    assert_every_report_once(client, session_id, reports)
    # The snapshot held finished reports and unfinished ones: the finished came first.
    assert len(snapshots) == 1
    in_snapshot = [r.tool_name for r in snapshots[0].tool_reports if r.HasField("completed_at")]
    assert done_before <= len(in_snapshot) < len(SLOW_TOOLS), in_snapshot
    assert sorted(r.tool_name for r in reports[: len(in_snapshot)]) == sorted(in_snapshot)
    finished_at = [r.completed_at.ToNanoseconds() for r in reports]
    assert finished_at == sorted(finished_at)
    assert client.get(session_id, "progress").session.status == pb.SESSION_STATUS_PARTIAL

    # Once finished: the same reports, from the snapshot alone.
    assert [r.tool_name for r in client.reports(session_id)] == [r.tool_name for r in reports]


def test_reports_resume_after_dropped_connection(env: Env, client: Client) -> None:
    server = urlsplit(env.url)
    assert server.hostname and server.port
    proxy = TcpProxy(server.hostname, server.port)
    watcher = Client(proxy.url, env.api_key, backoff=0.1)
    try:
        session_id = start_slow(env, client)
        done_before = wait_half_done(client, session_id)
        reports: list[pb.ToolReport] = []
        for report in watcher.reports(session_id):
            reports.append(report)
            # Cut the stream after the first report that came live, not from the snapshot.
            if len(reports) == done_before + 1 and not watcher.reconnects:
                proxy.refuse()
                assert proxy.cut() > 0, "no open connection to cut"
                threading.Timer(0.15, proxy.accept_again).start()
    finally:
        watcher.close()
        proxy.close()
    assert watcher.reconnects >= 1, "the cut did not break the stream"
    assert len(reports) == len(SLOW_TOOLS)
    assert_every_report_once(client, session_id, reports)


def test_reports_of_an_unknown_session_raise(client: Client) -> None:
    with pytest.raises(LivescanError) as caught:
        list(client.reports("sess-doesnotexist"))
    assert caught.value.code == "not_found"


def planted_archive(env: Env) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        archive.add(env.fixtures / "dir-planted", arcname=".")
    return buffer.getvalue()


def test_start_on_an_upload(env: Env, client: Client) -> None:
    data = planted_archive(env)
    chunks = iter([pb.UploadArchiveRequest(chunk=data[i : i + 64 * 1024]) for i in range(0, len(data), 64 * 1024)])
    uploaded = client.stub.UploadArchive(chunks, metadata=client.metadata, timeout=client.timeout)
    assert uploaded.upload_id.startswith("upl-")

    started = client.start({"upload": uploaded.upload_id}, tools=PLANTED_TOOLS)
    assert started.session.target.upload == uploaded.upload_id
    reports = list(client.reports(started.session_id))

    assert_every_report_once(client, started.session_id, reports)
    found = Counter((r.tool_name, f.rule_id, f.path, f.line) for r in reports for f in r.findings)
    assert found == expected_findings(env, PLANTED_TOOLS)
    assert client.get(started.session_id).session.status == pb.SESSION_STATUS_COMPLETED


def test_start_target_shapes() -> None:
    assert target_dict({"upload": "upl-abc"}) == {"upload": "upl-abc"}
    with pytest.raises(ValueError, match="exactly one of url, urls, directory or upload"):
        target_dict({"upload": "upl-abc", "directory": "/srv"})
    with pytest.raises(ValueError, match="unknown keys"):
        target_dict({"uploads": "upl-abc"})
