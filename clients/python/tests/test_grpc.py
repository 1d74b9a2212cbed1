"""The gRPC client against a real server: start, watch, resume after a dropped connection."""

from __future__ import annotations

import csv
import threading
import time
from collections import Counter
from urllib.parse import urlsplit

import grpc
import pytest
from conftest import Env
from tcp_proxy import TcpProxy

from livescan_client import Client, LivescanError, RestClient, pb

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

    severities = Counter(f.severity for r in reports for f in r.findings)
    assert summary.total_findings == sum(found.values()) == sum(r.findings_count for r in reports)
    assert summary.critical == severities[pb.SEVERITY_CRITICAL] > 0
    assert summary.high == severities[pb.SEVERITY_HIGH] > 0
    assert summary.tools_run == len(PLANTED_TOOLS)
    assert dict(summary.by_category) == {
        "security": found_by_tool(found, "secrets"),
        "code-quality": found_by_tool(found, "merge-conflicts"),
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


def found_by_tool(found: Counter[tuple[str, str, str, int]], tool: str) -> int:
    return sum(n for key, n in found.items() if key[0] == tool)


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
    refund = rest_of_it[-1].session_finished.refund
    assert sorted(refund.tools_refunded) == sorted(tools) and refund.refunded_credits == len(tools)

    poller = rest.poll(started.session_id, "progress", interval=0.05, timeout=30)
    assert sorted(r["toolName"] for r in poller) == sorted(tools)
    assert poller.status == "cancelled"
