"""The customer's side: one click on a mail link, the thank-you page, a comment, bad input."""

from __future__ import annotations

from datetime import timedelta

import pytest
import requests
from sqlalchemy import update

from ces.worker.db.models import Survey
from ces.worker.web.app import create_app
from tests.pipeline import answers, mock_ticket, receive, surveys
from tests.support import ServedApp


@pytest.fixture
def sent(rt, queue, sink, zendesk_api):
    mock_ticket(zendesk_api)
    receive(rt, "status_changed_solved.json", "inv-1")
    queue.drain(rt)
    [survey] = surveys(rt)
    return survey


@pytest.fixture
def app(rt, app_port):
    with ServedApp(create_app(rt), app_port) as served:
        yield served


def test_one_click_records_the_answer_and_thanks(app, rt, sent):
    resp = app.get(f"/s/{sent.token}/6")
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/html")
    assert "Thank you!" in resp.text and "Agree" in resp.text
    assert '<textarea id="comment" name="comment"' in resp.text and "Anything you would like to add?" in resp.text
    [answer] = answers(rt)
    assert (answer.score, answer.scale, answer.comment) == (6, "ces7", None)


def test_a_low_score_asks_what_made_it_hard(app, sent):
    assert "What made it hard?" in app.get(f"/s/{sent.token}/2").text


def test_a_comment_is_stored_as_text_and_shown_escaped(app, rt, sent):
    app.get(f"/s/{sent.token}/3")
    comment = "<script>alert(1)</script> I had to repeat myself"
    resp = requests.post(f"{app.url}/s/{sent.token}", data={"score": "3", "comment": comment}, timeout=10)
    assert resp.status_code == 200
    assert "<script>alert(1)</script>" not in resp.text and "&lt;script&gt;" in resp.text
    assert answers(rt)[0].comment == comment


def test_the_answer_can_be_changed(app, rt, sent):
    app.get(f"/s/{sent.token}/2")
    app.get(f"/s/{sent.token}/5")
    [answer] = answers(rt)
    assert (answer.score, answer.changes) == (5, 1)


def test_the_survey_page_offers_all_seven_answers(app, sent):
    resp = app.get(f"/s/{sent.token}")
    assert resp.status_code == 200
    assert "Acme made it easy for me to handle my issue." in resp.text
    assert resp.text.count('name="score"') == 7 and "<script" not in resp.text


def test_a_posted_score_is_recorded(app, rt, sent):
    resp = requests.post(f"{app.url}/s/{sent.token}", data={"score": "7"}, timeout=10)
    assert resp.status_code == 200 and answers(rt)[0].score == 7


def test_head_requests_never_answer(app, rt, sent):
    resp = requests.head(f"{app.url}/s/{sent.token}/1", timeout=10)
    assert resp.status_code == 200 and answers(rt) == []


@pytest.mark.parametrize("path", ["/s/not-a-real-token/5", "/s/not-a-real-token"])
def test_an_unknown_token_is_404(app, rt, sent, path):
    resp = app.get(path)
    assert resp.status_code == 404 and "This link is not valid" in resp.text
    assert answers(rt) == []


def test_a_tampered_token_is_404(app, rt, sent):
    tampered = sent.token[:-1] + ("A" if sent.token[-1] != "A" else "B")
    assert app.get(f"/s/{tampered}/5").status_code == 404 and answers(rt) == []


@pytest.mark.parametrize("score", ["0", "8", "-1", "five", "99999999999999999999"])
def test_a_score_outside_the_scale_is_400(app, rt, sent, score):
    resp = app.get(f"/s/{sent.token}/{score}")
    assert resp.status_code == 400 and answers(rt) == []


def test_a_too_long_comment_is_422_and_keeps_the_text(app, rt, sent):
    app.get(f"/s/{sent.token}/4")
    long = "I waited a long time. " * 300
    resp = requests.post(f"{app.url}/s/{sent.token}", data={"score": "4", "comment": long}, timeout=10)
    assert resp.status_code == 422
    assert long.strip()[:200] in resp.text and "longer than 5000" in resp.text
    assert answers(rt)[0].comment is None


def test_an_expired_survey_is_410(app, rt, sent):
    with rt.transaction() as s:
        s.execute(update(Survey).where(Survey.id == sent.id).values(expires_at=rt.now() - timedelta(seconds=1)))
    resp = app.get(f"/s/{sent.token}/5")
    assert resp.status_code == 410 and "closed" in resp.text and answers(rt) == []


def test_a_cancelled_survey_cannot_be_answered(app, rt, sent):
    with rt.transaction() as s:
        s.execute(update(Survey).where(Survey.id == sent.id).values(state="cancelled"))
    assert app.get(f"/s/{sent.token}/5").status_code == 404
