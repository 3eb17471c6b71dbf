"""Every answer under the people's pages (/s/, /u/, /a/) carries their security headers, the
framework's own 404, 405 and 500 included; no redirect is built from the Host header."""

from __future__ import annotations

import json

import pytest
import requests

from ces.worker.web.app import create_app
from ces.worker.web.security import PAGE_HEADERS
from tests.support import BROWSER, ServedApp, fixture_bytes, zendesk_headers

pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # HTTP only: one database is enough


@pytest.fixture
def app(rt, app_port):
    with ServedApp(create_app(rt), app_port) as served:
        yield served


def assert_page_headers(resp: requests.Response) -> None:
    assert resp.headers["content-type"].startswith("text/html"), resp.headers
    for name, value in PAGE_HEADERS.items():
        assert resp.headers.get(name) == value, (resp.request.method, resp.url, resp.status_code, name)


@pytest.mark.parametrize(("method", "path", "status"), [
    ("GET", "/s/", 404), ("GET", "/u/", 404), ("GET", "/a/", 404),
    ("GET", "/s/token/5/more", 404), ("GET", "/a/token/more", 404),
    ("GET", "/s/token/", 404), ("GET", "/u/token/", 404), ("GET", "/a/token/", 404), ("GET", "/s/token/5/", 404),
    ("POST", "/s/token/5", 405), ("PUT", "/s/token", 405), ("PUT", "/u/token", 405), ("DELETE", "/a/token", 405),
    ("GET", "/s/token", 404), ("POST", "/u/token", 404), ("POST", "/a/token", 404),
])
def test_framework_answers_under_the_pages_carry_the_security_headers(app, method, path, status):
    resp = requests.request(method, app.url + path, headers=BROWSER, allow_redirects=False, timeout=10)
    assert resp.status_code == status
    assert_page_headers(resp)


def test_a_crash_under_the_pages_is_a_page_with_the_security_headers(app, monkeypatch):
    from ces.worker.web import pages

    def broken(*_):
        raise RuntimeError("a bug")

    monkeypatch.setattr(pages, "open_survey", broken)
    resp = requests.get(f"{app.url}/s/token", headers=BROWSER, timeout=10)
    assert resp.status_code == 500 and "a bug" not in resp.text
    assert_page_headers(resp)


@pytest.mark.parametrize("path", ["/s/token/", "/s/token/5/", "/healthz/", "/readyz/"])
def test_a_trailing_slash_is_never_redirected_to_the_host_the_request_names(app, path):
    resp = requests.get(app.url + path, headers={**BROWSER, "Host": "evil.example"}, allow_redirects=False,
                        timeout=10)
    assert resp.status_code == 404 and "location" not in resp.headers
    assert "evil.example" not in resp.text


def test_json_paths_answer_a_json_404_with_a_trailing_slash(app):
    resp = requests.get(f"{app.url}/healthz/", allow_redirects=False, timeout=10)
    assert resp.status_code == 404 and resp.json()["error"] == "not_found"


def test_a_webhook_url_with_a_trailing_slash_is_the_same_endpoint(app, rt):
    body = fixture_bytes("zendesk", "status_changed_solved.json")
    resp = requests.post(f"{app.url}/webhooks/zendesk-main/", data=body, headers=zendesk_headers(body),
                         allow_redirects=False, timeout=10)
    assert resp.status_code == 202 and resp.json() == {"status": "accepted", "events": 1}
    unknown = requests.post(f"{app.url}/webhooks/nobody/", data=body, headers=zendesk_headers(body), timeout=10)
    assert unknown.status_code == 404 and json.loads(unknown.text)["error"] == "unknown_connector"
