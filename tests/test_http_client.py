"""The one HTTP client: timeouts, bounded retries with jittered backoff, 429 and Retry-After,
non-idempotent calls never repeated when they may have arrived."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
import requests
import responses

from ces.config.models import HttpSettings
from ces.connectors.errors import PermanentApiError, RateLimited, TransientApiError, UncertainApiError
from ces.connectors.http import HttpClient, backoff_delay, parse_retry_after, retry_after_of

URL = "https://api.example.com/v1/things"
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=timezone.utc)


@pytest.fixture
def client():
    waits = []
    c = HttpClient(HttpSettings(retries=2, backoff_base_seconds=1, backoff_max_seconds=4), sleep=waits.append)
    c.waits = waits
    return c


def test_backoff_grows_is_capped_and_jittered():
    low = [backoff_delay(n, 1, 8, rand=lambda: 0.0) for n in range(6)]
    high = [backoff_delay(n, 1, 8, rand=lambda: 1.0) for n in range(6)]
    assert low == [0.5, 1, 2, 4, 4, 4] and high == [1, 2, 4, 8, 8, 8]


@pytest.mark.parametrize("value,expected", [("17", 17.0), ("0", 0.0), ("-5", 0.0), ("soon", None), (None, None),
                                            ("Mon, 23 Nov 2026 12:00:30 GMT", 30.0)])
def test_retry_after_seconds_or_http_date(value, expected):
    assert parse_retry_after(value, NOW) == expected


@pytest.mark.parametrize("headers,expected", [
    ({"Retry-After": "3"}, 3.0),
    ({"X-RateLimit-Retry-After": "7"}, 7.0),  # Help Scout
    ({"RateLimit-Reset": "11"}, 11.0),
    ({"X-RateLimit-Reset": str(int(NOW.timestamp()) + 42)}, 42.0),  # Intercom: a Unix time
    ({"X-RateLimit-Reset": str(int(NOW.timestamp() * 1000) + 5000)}, 5.0),  # in milliseconds
    ({}, None),
])
def test_vendor_rate_limit_headers(headers, expected):
    assert retry_after_of(headers, NOW) == expected


@responses.activate
def test_get_retries_5xx_and_connection_errors_then_succeeds(client):
    responses.get(URL, status=502)
    responses.get(URL, body=requests.ConnectionError("reset"))
    responses.get(URL, json={"ok": True})
    assert client.request("GET", URL).json() == {"ok": True}
    assert len(client.waits) == 2 and all(0 < w <= 4 for w in client.waits)


@responses.activate
def test_retries_are_bounded(client):
    for _ in range(5):
        responses.get(URL, status=500)
    with pytest.raises(TransientApiError) as err:
        client.request("GET", URL, label="things")
    assert len(responses.calls) == 3 and err.value.status == 500 and "things at api.example.com" in str(err.value)


@responses.activate
def test_429_is_never_slept_on_but_reported_with_its_wait(client):
    responses.get(URL, status=429, headers={"Retry-After": "120"})
    with pytest.raises(RateLimited) as err:
        client.request("GET", URL)
    assert err.value.retry_after == 120 and client.waits == [] and len(responses.calls) == 1


# A POST that may have been carried out is never sent again: a 500 is transient (the caller's job
# retries it later), an answer that timed out is uncertain (nobody knows whether it happened).
@pytest.mark.parametrize("answer, error", [({"status": 500}, TransientApiError),
                                           ({"body": requests.ReadTimeout("read timed out")}, UncertainApiError)])
@responses.activate
def test_a_post_that_failed_or_timed_out_is_not_repeated(client, answer, error):
    responses.post(URL, **answer)
    with pytest.raises(error):
        client.request("POST", URL, json={"note": "x"})
    assert len(responses.calls) == 1


@responses.activate
def test_a_post_that_never_connected_is_retried(client):
    responses.post(URL, body=requests.ConnectTimeout("connect timed out"))
    responses.post(URL, json={"id": 1})
    assert client.request("POST", URL, json={}).json() == {"id": 1}


@responses.activate
def test_4xx_is_permanent_keeps_the_reason_and_hides_the_url_path(client):
    secret_url = "https://hooks.slack.com/services/T000/B000/XXXXSECRET"
    responses.post(secret_url, status=404, body="no_service")
    with pytest.raises(PermanentApiError) as err:
        client.request("POST", secret_url, label="Slack")
    assert "XXXXSECRET" not in str(err.value) and err.value.body == "no_service" and err.value.status == 404


@responses.activate
def test_redirects_are_not_followed(client):
    responses.get(URL, status=301, headers={"Location": "https://elsewhere.example.com/"})
    with pytest.raises(PermanentApiError, match="redirect"):
        client.request("GET", URL)


@responses.activate
def test_every_call_has_a_connect_and_read_timeout(client):
    responses.get(URL, json={})
    client.request("GET", URL)
    assert responses.calls[0].request.req_kwargs["timeout"] == (5.0, 20.0)


def test_the_environments_proxy_is_used_and_read_once_per_host(monkeypatch):
    """requests would read the environment at every call; the client reads it once per host."""
    from ces.config.models import HttpSettings
    from ces.connectors.http import HttpClient

    monkeypatch.setenv("HTTP_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("NO_PROXY", "direct.example")
    client = HttpClient(HttpSettings(retries=0))
    with responses.RequestsMock() as mock:
        mock.get("http://api.example/x", json={})
        mock.get("http://direct.example/y", json={})
        client.request("GET", "http://api.example/x")
        client.request("GET", "http://direct.example/y")
        monkeypatch.setenv("HTTP_PROXY", "http://elsewhere.example:1")
        client.request("GET", "http://api.example/x")
        assert [c.request.req_kwargs["proxies"].get("http") for c in mock.calls] == [
            "http://proxy.example:3128", None, "http://proxy.example:3128"]
