"""Refusals become LivescanError with the right status and code, over gRPC and REST."""

from __future__ import annotations

import grpc
import pytest
from conftest import Env

from livescan_client import (
    Client,
    InsufficientCredits,
    LivescanError,
    NotFound,
    RateLimited,
    RestClient,
    Unauthenticated,
)
from livescan_client.errors import from_http_error

BAD_KEYS = ["lsk_not-a-key", "lsk_aaaaaaaaaaaa_" + "a" * 40]


def planted(env: Env) -> str:
    return str(env.fixtures / "dir-planted")


def test_grpc_402_with_a_poor_key(env: Env) -> None:
    with Client(env.url, env.poor_api_key) as poor:
        with pytest.raises(InsufficientCredits) as caught:
            poor.start(planted(env), tools=["secrets"])
        assert poor.account().balance == 0
    error = caught.value
    assert isinstance(error, LivescanError)
    assert error.code == "insufficient_credits"
    assert error.http_status == 402
    assert error.grpc_status == grpc.StatusCode.FAILED_PRECONDITION
    # The tool's credit and the analysis'.
    assert error.details == {"required": 2, "balance": 0}
    assert "insufficient credits" in error.message


def test_rest_402_with_a_poor_key(env: Env) -> None:
    poor = RestClient(env.url, env.poor_api_key)
    with pytest.raises(InsufficientCredits) as caught:
        poor.start(planted(env), tools=["secrets", "merge-conflicts"])
    error = caught.value
    assert (error.code, error.http_status, error.grpc_status) == ("insufficient_credits", 402, None)
    assert error.details == {"required": 3, "balance": 0}
    assert poor.account()["balance"] == 0


@pytest.mark.parametrize("key", BAD_KEYS)
def test_grpc_401_with_a_bad_key(env: Env, key: str) -> None:
    with Client(env.url, key) as bad:
        for call in (lambda: bad.start(planted(env), tools=["secrets"]), bad.account, bad.tools):
            with pytest.raises(Unauthenticated) as caught:
                call()
            error = caught.value
            assert error.code == "unauthenticated"
            assert error.http_status == 401
            assert error.grpc_status == grpc.StatusCode.UNAUTHENTICATED
            assert key not in str(error)
        with pytest.raises(Unauthenticated):
            list(bad.watch("sess-anything"))


@pytest.mark.parametrize("key", BAD_KEYS)
def test_rest_401_with_a_bad_key(env: Env, key: str) -> None:
    bad = RestClient(env.url, key)
    for call in (lambda: bad.start(planted(env), tools=["secrets"]), bad.account, bad.tools):
        with pytest.raises(Unauthenticated) as caught:
            call()
        assert (caught.value.code, caught.value.http_status) == ("unauthenticated", 401)
    with pytest.raises(Unauthenticated):
        list(bad.poll("sess-anything", interval=0.05))


def test_404_for_an_unknown_session(client: Client, rest: RestClient) -> None:
    with pytest.raises(NotFound) as grpc_caught:
        client.get("sess-doesnotexist")
    assert (grpc_caught.value.code, grpc_caught.value.http_status) == ("not_found", 404)
    assert grpc_caught.value.grpc_status == grpc.StatusCode.NOT_FOUND
    with pytest.raises(NotFound):
        list(client.watch("sess-doesnotexist"))  # not retried: the server answered
    assert client.reconnects == 0
    with pytest.raises(NotFound) as rest_caught:
        rest.get("sess-doesnotexist")
    assert (rest_caught.value.code, rest_caught.value.http_status) == ("not_found", 404)
    with pytest.raises(NotFound):
        list(rest.poll("sess-doesnotexist", interval=0.05))


def test_400_names_the_field(env: Env, client: Client, rest: RestClient) -> None:
    with pytest.raises(LivescanError) as grpc_caught:
        client.start(planted(env), tools=["secrets"], max_concurrent=0)
    with pytest.raises(LivescanError) as rest_caught:
        rest.start(planted(env), tools=["secrets"], max_concurrent=0)
    for error in (grpc_caught.value, rest_caught.value):
        assert (error.code, error.http_status) == ("invalid_argument", 400), error
        assert error.details.get("field") == "maxConcurrent", error.details


def test_429_body_and_retry_after_are_decoded() -> None:
    # The shape the server sends with 429 (see the README); decoding only.
    body = b'{"error":{"code":"rate_limited","message":"too many requests","details":{"retryAfterMs":1500}}}'
    error = from_http_error(429, body, "2")
    assert isinstance(error, RateLimited)
    assert (error.code, error.http_status, error.retry_after) == ("rate_limited", 429, 2.0)
    assert from_http_error(429, body, None).retry_after == 1.5
    plain = from_http_error(502, b"Bad Gateway", None)
    assert type(plain) is LivescanError and plain.code == "http_502" and "Bad Gateway" in plain.message
