"""Fixtures for the SDK's tests against a real livescan server.

The server and a local web site are started by the caller, which passes:
LIVESCAN_URL, LIVESCAN_API_KEY, LIVESCAN_POOR_API_KEY (0 credits),
LIVESCAN_FIXTURES (tests/fixtures, inside the server's scan roots) and
LIVESCAN_SITE (/slow.html, /planted.html, /clean.html, /hang). A test that
needs one that is missing fails, naming it.
"""

from __future__ import annotations

import faulthandler
import ipaddress
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from livescan_client import Client, RestClient  # noqa: E402

REQUIRED = (
    "LIVESCAN_URL",
    "LIVESCAN_API_KEY",
    "LIVESCAN_POOR_API_KEY",
    "LIVESCAN_FIXTURES",
    "LIVESCAN_SITE",
)


@dataclass(frozen=True)
class Env:
    url: str
    api_key: str
    poor_api_key: str
    fixtures: Path
    site: str

    def slow_urls(self, count: int = 5) -> list[str]:
        return [f"{self.site}/slow.html?p={i}" for i in range(count)]


def _require_loopback(name: str, url: str) -> None:
    host = urlsplit(url).hostname or ""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        pytest.fail(f"{name}={url!r}: these tests talk only to loopback addresses", pytrace=False)


# No test may hang the run: after this long, dump every thread's stack and exit.
TEST_TIME_LIMIT_S = 60


@pytest.fixture(autouse=True)
def time_limit() -> Iterator[None]:
    faulthandler.dump_traceback_later(TEST_TIME_LIMIT_S, exit=True)
    yield
    faulthandler.cancel_dump_traceback_later()


@pytest.fixture(scope="session")
def env() -> Env:
    missing = [name for name in REQUIRED if not os.environ.get(name)]
    if missing:
        pytest.fail(
            f"missing environment variable(s) {', '.join(missing)}: these tests need a running "
            f"livescan server and local site (set all of {', '.join(REQUIRED)})",
            pytrace=False,
        )
    e = Env(
        url=os.environ["LIVESCAN_URL"].rstrip("/"),
        api_key=os.environ["LIVESCAN_API_KEY"],
        poor_api_key=os.environ["LIVESCAN_POOR_API_KEY"],
        fixtures=Path(os.environ["LIVESCAN_FIXTURES"]),
        site=os.environ["LIVESCAN_SITE"].rstrip("/"),
    )
    _require_loopback("LIVESCAN_URL", e.url)
    _require_loopback("LIVESCAN_SITE", e.site)
    if not (e.fixtures / "dir-planted").is_dir():
        pytest.fail(f"LIVESCAN_FIXTURES={e.fixtures}: no dir-planted inside", pytrace=False)
    return e


@pytest.fixture
def client(env: Env) -> Iterator[Client]:
    with Client(env.url, env.api_key) as c:
        yield c


@pytest.fixture
def rest(env: Env) -> RestClient:
    return RestClient(env.url, env.api_key)
