"""The customer's side: one click on a mail link, the thank-you page, a comment, bad input,
link scanners, unsubscribing."""

from __future__ import annotations

from datetime import timedelta

import pytest
import requests
from sqlalchemy import select, update

from ces.worker.db.models import AnswerHistory, Survey
from ces.worker.queries.reports import ces_report
from ces.worker.queries.scope import Scope
from ces.worker.scheduler import tick
from ces.worker.surveys.answers import record_answer
from ces.worker.web.app import create_app
from tests.pipeline import answers, mock_ticket, receive, surveys
from tests.support import BROWSER, ServedApp


@pytest.fixture
def rt(make_rt, clock):
    return make_rt(clock=clock)


@pytest.fixture
def sent(rt, queue, sink, zendesk_api, clock):
    mock_ticket(zendesk_api, locale="en-US")
    receive(rt, "status_changed_solved.json", "inv-1")
    queue.drain(rt)
    [survey] = surveys(rt)
    clock.advance(120)  # the customer reads the mail a couple of minutes later
    return survey


@pytest.fixture
def app(rt, app_port):
    with ServedApp(create_app(rt), app_port) as served:
        yield served


def click(app, token, score, headers=None):
    return requests.get(f"{app.url}/s/{token}/{score}", headers=headers or BROWSER, timeout=10)


def post(app, token, **data):
    return requests.post(f"{app.url}/s/{token}", data=data, headers=BROWSER, timeout=10)


def report(rt):
    today = rt.now().date()
    return ces_report(Scope.everything(), rt, today - timedelta(days=1), today + timedelta(days=1))["rows"][0]


def test_one_click_shows_thanks_and_records_a_provisional_answer(app, rt, sent):
    resp = click(app, sent.token, 6)
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/html")
    assert "Thank you!" in resp.text and "Agree" in resp.text
    assert '<textarea id="comment" name="comment"' in resp.text and "Anything you would like to add?" in resp.text
    [answer] = answers(rt)
    assert (answer.score, answer.scale, answer.state, answer.comment) == (6, "ces7", "provisional", None)
    assert report(rt)["responses"] == 0  # not before it is confirmed or settles


def test_the_pages_script_confirms_on_a_persons_interaction(app, rt, sent):
    page = click(app, sent.token, 6).text
    assert 'addEventListener(name, confirmAnswer' in page and '"pointermove"' in page
    post(app, sent.token, score="6", confirm="1")  # what the script sends
    [answer] = answers(rt)
    assert (answer.state, answer.via) == ("confirmed", "script")
    assert report(rt)["responses"] == 1 and report(rt)["ces"] == 1.0


def test_a_single_click_settles_into_an_answer(app, rt, sent, clock):
    click(app, sent.token, 5)
    clock.advance(61)
    assert tick(rt)["answers_confirmed"] == 1
    assert (answers(rt)[0].state, answers(rt)[0].via) == ("confirmed", "settled")


def test_a_scanner_clicking_every_link_is_discarded(app, rt, sent, clock):
    for score in range(1, 8):  # a gateway that opens every link, with a browser's user agent
        click(app, sent.token, score)
    clock.advance(61)
    assert tick(rt)["answers_discarded"] == 1
    [answer] = answers(rt)
    assert answer.state == "discarded" and answer.via.startswith("scanner: 7 different scores")
    assert report(rt)["responses"] == 0


def test_a_click_right_after_sending_is_a_scanner(app, rt, sent, clock):
    with rt.transaction() as s:
        s.execute(update(Survey).where(Survey.id == sent.id).values(sent_at=clock.now - timedelta(seconds=3)))
    click(app, sent.token, 7)
    clock.advance(61)
    tick(rt)
    assert answers(rt)[0].state == "discarded"


def test_a_person_after_a_scanner_still_counts(app, rt, sent, clock):
    for score in (1, 7):
        click(app, sent.token, score)
    clock.advance(61)
    tick(rt)
    clock.advance(3600)
    click(app, sent.token, 3)
    post(app, sent.token, score="3", confirm="1")
    [answer] = answers(rt)
    assert (answer.state, answer.score) == ("confirmed", 3)


@pytest.mark.parametrize("headers", [
    {"User-Agent": "Mozilla/5.0 (compatible; Barracuda Sentinel (EE))"},
    {"User-Agent": "Proofpoint URL Defense"},
    {"User-Agent": "python-requests/2.32"},
    {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 HeadlessChrome/131.0.0.0 Safari/537.36"},
    {**BROWSER, "Sec-Purpose": "prefetch"},
    {**BROWSER, "Purpose": "prefetch"},
    {"User-Agent": ""},
])
def test_scanners_and_prefetchers_never_answer(app, rt, sent, headers):
    resp = click(app, sent.token, 1, headers)
    assert resp.status_code == 200 and "Please confirm your answer" in resp.text
    assert answers(rt) == []


def test_head_requests_never_answer(app, rt, sent):
    assert requests.head(f"{app.url}/s/{sent.token}/1", headers=BROWSER, timeout=10).status_code == 200
    assert answers(rt) == []


def test_a_low_score_asks_what_made_it_hard(app, sent):
    assert "What made it hard?" in click(app, sent.token, 2).text


def history(rt) -> list[tuple]:
    with rt.transaction() as s:
        return [(h.kind, h.score, h.comment, h.how) for h in s.scalars(select(AnswerHistory).order_by(AnswerHistory.id))]


def test_a_changed_score_starts_without_the_comment_written_for_the_earlier_one(app, rt, sent, clock):
    """7 with a comment, then 2: the thank-you page for 2 asks what made it hard with an empty box,
    and the 7's comment stays with the 7, in the answer's history."""
    assert post(app, sent.token, score="7", comment="Quick and friendly").status_code == 200
    clock.advance(600)
    page = click(app, sent.token, 2)  # the mail's link for 2, a while later
    assert "What made it hard?" in page.text
    assert '></textarea>' in page.text and "Quick and friendly" not in page.text
    [answer] = answers(rt)
    assert (answer.score, answer.comment, answer.changes) == (2, None, 1)
    clock.advance(30)
    post(app, sent.token, score="2", comment="I had to call three times")
    post(app, sent.token, score="2", comment="I had to call three times")  # sent twice: one fact
    post(app, sent.token, score="2", confirm="1")  # the page's script: nothing new
    assert post(app, sent.token, score="2").text.count("I had to call three times") == 1  # its own comment, kept
    assert answers(rt)[0].comment == "I had to call three times"
    assert history(rt) == [("answered", 7, "Quick and friendly", "form"), ("score", 2, None, "click"),
                           ("comment", 2, "I had to call three times", "form")]
    with rt.transaction() as s:
        ats = list(s.scalars(select(AnswerHistory.at).order_by(AnswerHistory.id)))
    assert [(b - a).total_seconds() for a, b in zip(ats, ats[1:])] == [600, 30]


def test_the_history_keeps_a_settled_click_and_each_change(app, rt, sent, clock):
    click(app, sent.token, 1)
    clock.advance(15)
    click(app, sent.token, 5)  # a corrected mis-click, before it settled: not a fact of its own
    clock.advance(61)
    assert tick(rt)["answers_confirmed"] == 1
    post(app, sent.token, score="6", comment="Fine in the end")
    assert history(rt) == [("answered", 5, None, "settled"), ("score", 6, "Fine in the end", "form")]
    with rt.transaction() as s:
        assert s.scalars(select(AnswerHistory.at)).first() == sent.sent_at + timedelta(seconds=135)  # its last click


def test_a_comment_is_stored_as_text_and_shown_escaped(app, rt, sent):
    click(app, sent.token, 3)
    comment = "<script>alert(1)</script> I had to repeat myself"
    resp = post(app, sent.token, score="3", comment=comment)
    assert resp.status_code == 200 and "Your comment has been saved." in resp.text
    assert "<script>alert(1)</script>" not in resp.text and "&lt;script&gt;alert(1)&lt;/script&gt;" in resp.text
    [answer] = answers(rt)
    assert answer.comment == comment and answer.state == "confirmed"


def test_the_answer_can_be_changed(app, rt, sent):
    post(app, sent.token, score="2")
    post(app, sent.token, score="5")
    [answer] = answers(rt)
    assert (answer.score, answer.changes, answer.state) == (5, 1, "confirmed")


def test_the_survey_page_offers_every_answer(app, sent):
    resp = requests.get(f"{app.url}/s/{sent.token}", headers=BROWSER, timeout=10)
    assert resp.status_code == 200
    assert "Acme made it easy for me to handle my issue." in resp.text
    assert resp.text.count('name="score"') == 7
    assert "default-src 'none'" in resp.headers["Content-Security-Policy"]


def test_a_posted_score_is_recorded_and_confirmed(app, rt, sent):
    assert post(app, sent.token, score="7").status_code == 200
    assert (answers(rt)[0].score, answers(rt)[0].state) == (7, "confirmed")


@pytest.mark.parametrize("path", ["/s/not-a-real-token/5", "/s/not-a-real-token", "/u/not-a-real-token"])
def test_an_unknown_token_is_404(app, rt, sent, path):
    resp = requests.get(app.url + path, headers=BROWSER, timeout=10)
    assert resp.status_code == 404 and "This link is not valid" in resp.text
    assert answers(rt) == []


def test_a_tampered_token_is_404(app, rt, sent):
    tampered = sent.token[:-1] + ("A" if sent.token[-1] != "A" else "B")
    assert click(app, tampered, 5).status_code == 404 and answers(rt) == []


@pytest.mark.parametrize("score", ["0", "8", "-1", "five", "99999999999999999999", "¹", "٣"])
def test_a_score_outside_the_scale_is_400(app, rt, sent, score):
    assert click(app, sent.token, score).status_code == 400
    assert post(app, sent.token, score=score).status_code == 400
    assert answers(rt) == []


def test_a_comment_with_nul_or_a_lone_surrogate_is_stored_without_them(app, rt, sent):
    """PostgreSQL refuses NUL in text (it was a 500) and UTF-8 has no lone surrogates."""
    resp = post(app, sent.token, score="3", comment="it\x00 was hard")
    assert resp.status_code == 200 and "Your comment has been saved." in resp.text
    assert answers(rt)[0].comment == "it was hard"
    record_answer(rt, sent.token, 3, "really\ud800 hard")  # no form sends one; a caller in Python could
    assert answers(rt)[0].comment == "really? hard"


def test_a_too_long_comment_is_422_and_keeps_the_text(app, rt, sent):
    post(app, sent.token, score="4")
    long = "I waited a long time. " * 300
    resp = post(app, sent.token, score="4", comment=long)
    assert resp.status_code == 422
    assert long.strip()[:200] in resp.text and "longer than 5000" in resp.text
    assert answers(rt)[0].comment is None


def test_an_expired_survey_is_410(app, rt, sent):
    with rt.transaction() as s:
        s.execute(update(Survey).where(Survey.id == sent.id).values(expires_at=rt.now() - timedelta(seconds=1)))
    resp = click(app, sent.token, 5)
    assert resp.status_code == 410 and "closed" in resp.text and answers(rt) == []


def test_a_cancelled_survey_cannot_be_answered(app, rt, sent):
    with rt.transaction() as s:
        s.execute(update(Survey).where(Survey.id == sent.id).values(state="cancelled"))
    assert click(app, sent.token, 5).status_code == 404


# --- unsubscribe --------------------------------------------------------------------------------
def test_the_mail_carries_one_click_unsubscribe(sent, sink, rt):
    [mail] = sink.messages
    url = f"{rt.settings.public_url}/u/{sent.token}"
    assert str(mail["List-Unsubscribe"]).strip() == f"<{url}>"
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert url in mail.get_body(("plain",)).get_content() and url in mail.get_body(("html",)).get_content()


def test_unsubscribe_page_asks_before_changing_anything(app, rt, sent):
    from ces.worker.db.models import OptOut

    resp = requests.get(f"{app.url}/u/{sent.token}", headers=BROWSER, timeout=10)
    assert resp.status_code == 200 and 'method="post"' in resp.text
    with rt.transaction() as s:
        assert s.query(OptOut).count() == 0


@pytest.mark.parametrize("body", [{"List-Unsubscribe": "One-Click"}, {}])
def test_unsubscribed_customers_are_never_surveyed_again(app, rt, queue, sink, zendesk_api, sent, body):
    resp = requests.post(f"{app.url}/u/{sent.token}", data=body, timeout=10)  # RFC 8058 or the page's button
    assert resp.status_code == 200 and "You are unsubscribed" in resp.text
    mock_ticket(zendesk_api, ticket_id="6000", email=" Maria.Garcia@EXAMPLE.com ")
    from tests.pipeline import status_body

    receive(rt, "x", "inv-next", body=status_body("solved", "open", ticket_id="6000"))
    queue.drain(rt)
    assert surveys(rt)[1].state == "skipped" and "unsubscribed" in surveys(rt)[1].reason
    assert len(sink.messages) == 1


# --- form limits (server.max_form_bytes) --------------------------------------------------------
def test_a_form_over_the_size_limit_is_413_and_changes_nothing(app, rt, sent):
    resp = post(app, sent.token, score="2", comment="x" * 70_000)
    assert resp.status_code == 413 and resp.headers["content-type"].startswith("text/html")
    assert "longer than 5000 characters" in resp.text and resp.headers["Cache-Control"] == "no-store"
    assert answers(rt) == []


def test_the_longest_comment_fits_the_form_limit_in_any_script(app, rt, sent):
    comment = "😀" * 5000  # four bytes each, twelve once form-encoded
    resp = post(app, sent.token, score="2", comment=comment)
    assert resp.status_code == 200 and answers(rt)[0].comment == comment


def test_a_multipart_form_is_415_and_changes_nothing(app, rt, sent):
    resp = requests.post(f"{app.url}/s/{sent.token}", files={"score": (None, "2")}, headers=BROWSER, timeout=10)
    assert resp.status_code == 415 and resp.headers["content-type"].startswith("text/html")
    assert answers(rt) == []


def test_one_click_unsubscribe_sent_as_multipart_is_accepted(app, rt, sent):
    from ces.worker.db.models import OptOut

    resp = requests.post(f"{app.url}/u/{sent.token}", files={"List-Unsubscribe": (None, "One-Click")}, timeout=10)
    assert resp.status_code == 200 and "You are unsubscribed" in resp.text
    with rt.transaction() as s:
        assert s.query(OptOut).count() == 1
