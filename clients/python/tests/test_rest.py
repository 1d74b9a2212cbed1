"""The REST poller against a real server: every mode gets each report once and stops on partial."""

from __future__ import annotations

from collections import Counter

import pytest
from conftest import Env

from livescan_client import Poller, RestClient

# Five slow pages, one tool at a time, 400 ms per tool: http-headers and
# exposed-paths time out (failed, refunded) while others complete, so the
# session ends `partial` after about 1.5 s of reports arriving one by one.
SLOW_TOOLS = ["security-txt", "http-headers", "html-a11y", "cookies", "exposed-paths", "page-weight"]
TERMINAL = {"completed", "partial", "failed", "cancelled"}


@pytest.mark.parametrize(
    ("mode", "cursor"),
    [("incremental", "since"), ("incremental", "after"), ("progress", "since"), ("full", "since")],
)
def test_poller_gets_each_report_once_and_stops_on_partial(
    env: Env, rest: RestClient, mode: str, cursor: str
) -> None:
    started = rest.start(env.slow_urls(5), tools=SLOW_TOOLS, max_concurrent=1, timeout_ms=400)
    session_id = started["sessionId"]
    assert started["status"] == "started"

    poller = rest.poll(session_id, mode, interval=0.1, cursor=cursor, timeout=30)  # type: ignore[arg-type]
    assert isinstance(poller, Poller)
    reports = list(poller)

    assert poller.status == "partial", poller.last_response
    assert poller.done
    assert poller.polls >= 3, f"the session ended before it was polled a few times ({poller.polls})"
    names = Counter(r["toolName"] for r in reports)
    assert sorted(names) == sorted(SLOW_TOOLS) and set(names.values()) == {1}, names
    for report in reports:
        assert report["status"] in {"completed", "failed", "skipped"}, report
        assert report["completedAt"], report
    # Yielded in the order the tools finished (completedAt strictly increases).
    finished_at = [r["completedAt"] for r in reports]
    assert finished_at == sorted(finished_at) and len(set(finished_at)) == len(finished_at)

    # The final full session matches: same reports, a refund for the failed ones.
    final = poller.session()
    assert final["status"] == "partial"
    assert final["progress"]["percentage"] == 100
    assert sorted(final["toolReports"]) == sorted(SLOW_TOOLS)
    failed = sorted(name for name, r in final["toolReports"].items() if r["status"] != "completed")
    assert failed and sorted(final["refund"]["toolsRefunded"]) == failed
    assert {r["toolName"]: r["status"] for r in reports} == {
        name: r["status"] for name, r in final["toolReports"].items()
    }
    # Polling the finished session afresh yields every report once, in one poll or two.
    again = rest.poll(session_id, mode, interval=0.1, cursor=cursor, timeout=30)  # type: ignore[arg-type]
    assert len(list(again)) == len(SLOW_TOOLS) and again.polls <= 2


def test_incremental_poll_of_a_partial_directory_session(env: Env, rest: RestClient) -> None:
    # vulnerable-dependencies is unavailable (no advisory database): skipped and refunded.
    started = rest.start(str(env.fixtures / "dir-planted"), tools=["secrets", "vulnerable-dependencies"])
    poller = rest.poll(started["sessionId"], "incremental", interval=0.05, timeout=30)
    reports = {r["toolName"]: r for r in poller}
    assert poller.status == "partial"
    assert reports["vulnerable-dependencies"]["status"] == "skipped"
    assert reports["secrets"]["findingsCount"] > 0
    final = poller.session()
    assert final["refund"]["toolsRefunded"] == ["vulnerable-dependencies"]
    assert final["summary"]["bySeverity"]["critical"] > 0


def test_rest_start_accepts_the_reference_shapes(env: Env, rest: RestClient) -> None:
    started = rest.start({"directory": str(env.fixtures / "dir-clean")}, categories=["security"], tools=["secrets"])
    assert set(started["pollUrls"]) >= {"full", "progress", "newReports"}
    reports = list(rest.poll(started["sessionId"], "full", interval=0.05, timeout=30))
    assert [r["toolName"] for r in reports] == ["secrets"]
    assert reports[0]["findingsCount"] == 0
    progress = rest.get(started["sessionId"], progress=True)
    assert progress["status"] in TERMINAL and "toolReports" not in progress
