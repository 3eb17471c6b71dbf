"""What a person finds at the server's root, and the demo's mailbox."""

from __future__ import annotations

from datetime import datetime, timezone
from email.utils import parsedate_to_datetime

import pytest
import requests

from ces.worker.web.app import create_app
from ces.worker.web.pages import _HEADERS as PAGE_HEADERS
from tests.support import ServedApp

pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


def test_the_root_says_what_runs_here_where_no_console_is_served(rt, app_port):
    with ServedApp(create_app(rt, only="public"), app_port) as app:
        resp = requests.get(f"{app.url}/", timeout=10)
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/html")
    assert "<title>ces-worker</title>" in resp.text and 'href="/healthz"' in resp.text
    assert "/demo/mail" not in resp.text  # not a demo
    for name, value in PAGE_HEADERS.items():  # the survey pages' security headers
        assert resp.headers[name] == value


def test_the_demo_mailbox_shows_when_each_mail_arrived(config, make_rt, app_port, tmp_path):
    from ces.config.models import SmtpSettings
    from ces.worker.demo.smtp_sink import MailSink
    from ces.worker.mail import send_mail
    from ces.worker.surveys.render import SurveyMail
    from ces.worker.surveys.scales import CES7

    config.write(extra=f'\n[demo]\nmail_dir = "{tmp_path / "mail"}"\n')
    rt = make_rt()
    sink = MailSink(tmp_path / "mail").start()
    before = datetime.now(timezone.utc).replace(microsecond=0)
    try:
        mail = SurveyMail(to_email="maria@example.com", to_name="María", ticket_id="42", subject_line=None,
                          token="t" * 43, scale=CES7, locale="es", company="Acme", public_url="https://s.example",
                          expires_at=datetime(2026, 12, 21, tzinfo=timezone.utc))
        send_mail(SmtpSettings(host=sink.host, port=sink.port), mail.message(sender="a@acme.test", reply_to=None))
    finally:
        sink.stop()
    after = datetime.now(timezone.utc)
    with ServedApp(create_app(rt, only="public"), app_port) as app:
        page = requests.get(f"{app.url}/demo/mail", timeout=10).text
        root = requests.get(f"{app.url}/", timeout=10).text
    [row] = [line for line in page.split("<tr>") if "maria@example.com" in line]
    date = row.split("<td>")[1].split("</td>")[0]
    assert before <= parsedate_to_datetime(date) <= after  # when it was sent
    assert 'href="/demo/mail"' in root


def test_with_the_console_the_root_is_its_sign_in(rt, app_port):
    with ServedApp(create_app(rt), app_port) as app:
        resp = requests.get(f"{app.url}/", timeout=10, allow_redirects=False)
    assert resp.status_code == 303 and resp.headers["location"] == "/login"
