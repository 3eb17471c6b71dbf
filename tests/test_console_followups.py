"""The follow-up queue and the ticket page (worker/console/followups.py, ticket.py): who sees and
does what, and one truth with the alerts' /a/ links and `ces report --follow-up` — acting in the
console shows through the link and the report, and acting through a link shows in the console."""

from __future__ import annotations

import json
from datetime import date

import pytest
import requests
from selenium.webdriver.common.by import By
from selenium.webdriver.support.select import Select
from selenium.webdriver.support.wait import WebDriverWait
from sqlalchemy import select

from ces.worker.alerts.followup import act
from ces.worker.db.models import FollowUp
from ces.worker.queries.reports import follow_up_report
from ces.worker.queries.scope import Scope
from ces.worker.web.app import create_app
from tests.console import Client, add_user, screenshot, sign_in, sign_out, signed_in
from tests.followup_data import COMMENT, NOW, seed, token
from tests.pipeline import Clock
from tests.support import ServedApp

pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


@pytest.fixture
def rt(make_rt):
    return make_rt(clock=Clock(NOW))


@pytest.fixture
def data(rt):
    add_user(rt, "ada@acme.test", "admin", name="Ada Admin")
    add_user(rt, "lee@acme.test", "lead", teams=("Billing",), name="Lee Lead")
    add_user(rt, "amy@acme.test", "agent", name="Amy Agent")
    add_user(rt, "bob@acme.test", "agent", name="Bob Agent")
    return seed(rt)


@pytest.fixture
def console(rt, app_port):
    with ServedApp(create_app(rt), app_port) as served:
        yield served


def case_of(rt, case_id: int) -> FollowUp:
    with rt.transaction() as s:
        return s.scalars(select(FollowUp).where(FollowUp.id == case_id)).one()


def user_id(rt, email: str) -> int:
    from ces.worker.db.models import User

    with rt.transaction() as s:
        return s.scalar(select(User.id).where(User.email == email))


def report_row(rt, team: str, agent: str) -> dict:
    rows = follow_up_report(Scope.everything(), rt, date(2026, 11, 1), date(2026, 12, 31))["rows"]
    return next(r for r in rows if (r["team"], r["agent"]) == (team, agent))


def test_a_lead_sees_their_teams_cases_with_reasons_age_target_and_what_is_overdue(rt, data, console):
    lee = signed_in(console, "lee@acme.test")
    page = lee.get("/follow-ups").text
    assert "#1001" in page and "#2002" in page and "#3003" not in page  # Returns is not Lee's team
    assert "transferred between teams once (Tier 1 → Billing)" in page  # the reasons as alerts word them
    assert "Answered" in page and "3/7" in page and "Somewhat disagree" in page
    assert "Cara Customer &lt;customer@example.test&gt;" in page  # whom to call back
    assert "Overdue by 2 d" in page  # #2002: opened Thu 26 Nov, due Mon 30 Nov 15:00
    assert "Due in 1 d 3 h" in page  # #1001: opened Tue 18:00, due Thu 18:00
    overdue = lee.get("/follow-ups?overdue=1").text
    assert "#2002" in overdue and "#1001" not in overdue and "1 overdue" in overdue
    assert f'href="/tickets/{data["1001"]["ticket"]}"' in page  # a row opens its ticket
    everything = signed_in(console, "ada@acme.test").get("/follow-ups?team=Returns").text
    assert "#3003" in everything and "No answer: flagged by what the ticket went through" in everything
    assert "#1001" not in everything


def test_the_report_pages_links_narrow_the_queue_to_a_range_and_a_driver(rt, data, console):
    """The overview's high-effort share and a driver's row open the cases behind them: tickets last
    solved in the range (all three were, on 1 December), with that driver, in every state."""
    ada = signed_in(console, "ada@acme.test")

    def shown(query: str) -> set[str]:
        page = ada.get(f"/follow-ups?{query}")
        assert page.status_code == 200
        return {n for n in ("#1001", "#2002", "#3003") if n in page.text}

    assert shown("from=2026-12-01&to=2026-12-01") == {"#1001", "#2002", "#3003"}
    assert shown("from=2026-11-01&to=2026-11-30") == set()
    assert shown("from=2026-12-01&to=2026-12-01&driver=reopens") == {"#1001"}
    assert shown("from=2026-12-01&to=2026-12-01&driver=repeat_contacts") == {"#3003"}
    assert shown("driver=made-up") == {"#1001", "#2002", "#3003"}  # an unknown driver narrows nothing
    assert "with “Reopens”" in ada.get("/follow-ups?from=2026-12-01&to=2026-12-01&driver=reopens").text


def test_acting_in_the_console_shows_through_the_alert_link_and_the_report(rt, data, console):
    case_id = data["1001"]["case"]
    lee = signed_in(console, "lee@acme.test")
    lee.get("/follow-ups")
    resp = lee.post(f"/follow-ups/{case_id}/owner", {"owner": str(user_id(rt, "amy@acme.test")),
                                                     "back": "/follow-ups?team=Billing"})
    assert (resp.status_code, resp.headers["location"]) == (303, "/follow-ups?team=Billing")  # without JavaScript
    assert case_of(rt, case_id).owner_id == user_id(rt, "amy@acme.test")

    amy = signed_in(console, "amy@acme.test")
    mine = amy.get("/follow-ups?mine=1").text
    assert "#1001" in mine and "Amy Agent" in mine
    assert amy.post(f"/follow-ups/{case_id}/acknowledge", {"back": "/follow-ups"}).status_code == 303
    # htmx: the card comes back in place
    card = amy.post(f"/follow-ups/{case_id}/followed_up", {"note": "Called her, refunded <the fee>"},
                    headers={"HX-Request": "true"})
    assert card.status_code == 200 and card.text.lstrip().startswith("<li")
    assert "Marked as followed up." in card.text and "Called her, refunded &lt;the fee&gt;" in card.text
    item = case_of(rt, case_id)
    assert (item.state, item.acknowledged_by, item.followed_up_by) == ("followed_up", "amy@acme.test", "amy@acme.test")

    link = requests.get(f"{console.url}/a/{token(data['1001']['links']['followed_up'])}", timeout=10).text
    assert "State: <strong>followed up" in link and "Called her, refunded &lt;the fee&gt;" in link
    assert 'method="post"' in link  # the link itself is unused: using it changes nothing more
    act(rt, token(data["1001"]["links"]["followed_up"]), "Lee", "again")
    assert case_of(rt, case_id).followed_up_note == "Called her, refunded <the fee>"
    row = report_row(rt, "Billing", "Amy Agent")
    assert (row["alerts"], row["acknowledged"], row["followed_up"], row["followed_up_within_days"]) == (1, 1, 1, 1.0)


def test_acting_through_an_alert_link_shows_in_the_console_and_the_report(rt, data, console):
    act(rt, token(data["2002"]["links"]["followed_up"]), "Priya", "Sent a voucher")
    lee = signed_in(console, "lee@acme.test")
    assert "#2002" not in lee.get("/follow-ups").text  # waiting cases only, by default
    done = lee.get("/follow-ups?state=followed_up").text
    assert "#2002" in done and "Sent a voucher" in done and "Priya" in done
    ticket = lee.get(f"/tickets/{data['2002']['ticket']}").text
    assert "Followed up by Priya" in ticket and "Sent a voucher" in ticket
    row = report_row(rt, "Billing", "Bob Agent")
    assert (row["followed_up"], row["followed_up_within_days"]) == (1, 0.0)  # six days: late, 2 business days


@pytest.mark.parametrize("days, on_time", [(3, 0.0), (4, 1.0)])
def test_the_report_counts_business_days_as_the_queue_does(rt, data, capsys, days, on_time):
    from ces.worker.cli import main

    # #2002 opened Thursday 26 Nov 15:00 and was followed up Wednesday 2 Dec 15:00: six calendar days,
    # four business days (the weekend does not count).
    act(rt, token(data["2002"]["links"]["followed_up"]), "Priya", "Sent a voucher")
    with pytest.raises(SystemExit):
        main(["report", "--follow-up", "--days", str(days), "--since", "2026-11-01", "--until", "2026-12-31",
              "--format", "json"])
    result = json.loads(capsys.readouterr().out)
    bob = next(r for r in result["rows"] if r["agent"] == "Bob Agent")
    assert (result["days"], bob["followed_up_within_days"]) == (days, on_time)
    with pytest.raises(SystemExit):
        main(["report", "--follow-up", "--since", "2026-11-01", "--until", "2026-12-31"])
    assert "followed up within 2 business days" in capsys.readouterr().out  # alerts.follow_up_business_days


def test_an_agent_sees_and_works_only_their_own_tickets(rt, data, console):
    amy = signed_in(console, "amy@acme.test")
    page = amy.get("/follow-ups").text
    assert "#1001" in page and "#2002" not in page and "#3003" not in page
    assert 'action="/follow-ups/' in page and "/owner" not in page  # no assigning for agents
    theirs, bobs = data["1001"], data["2002"]
    assert amy.get(f"/tickets/{theirs['ticket']}").status_code == 200
    assert amy.get(f"/tickets/{bobs['ticket']}").status_code == 404
    assert amy.get(f"/tickets/{data['3003']['ticket']}").status_code == 404
    for action in ("acknowledge", "followed_up", "owner"):
        assert amy.post(f"/follow-ups/{bobs['case']}/{action}", {"note": "x"}).status_code == 404
    assert amy.post(f"/follow-ups/{theirs['case']}/owner", {"owner": ""}).status_code == 404
    assert case_of(rt, bobs["case"]).state == "open"


def test_a_lead_cannot_reach_other_teams_nor_give_a_case_to_someone_who_cannot_see_it(rt, data, console):
    lee = signed_in(console, "lee@acme.test")
    returns = data["3003"]
    assert lee.get(f"/tickets/{returns['ticket']}").status_code == 404
    assert lee.post(f"/follow-ups/{returns['case']}/acknowledge").status_code == 404
    lee.get("/follow-ups")
    bob = str(user_id(rt, "bob@acme.test"))  # Bob was not the agent of #1001: he cannot open it
    assert lee.post(f"/follow-ups/{data['1001']['case']}/owner", {"owner": bob}).status_code == 422
    assert case_of(rt, data["1001"]["case"]).owner_id is None
    page = lee.get("/follow-ups").text
    options = page.split(f'id="owner-{data["1001"]["case"]}"')[1].split("</select>")[0]
    assert "Amy Agent" in options and "Lee Lead" in options and "Bob Agent" not in options


def test_a_post_without_the_csrf_token_is_refused_and_changes_nothing(rt, data, console):
    lee = signed_in(console, "lee@acme.test")
    case_id = data["1001"]["case"]
    assert lee.post(f"/follow-ups/{case_id}/acknowledge", csrf="").status_code == 403
    assert lee.post(f"/follow-ups/{case_id}/followed_up", {"note": "x"}, csrf="forged").status_code == 403
    assert case_of(rt, case_id).state == "open"


def test_unknown_or_malformed_ids_are_not_found(rt, data, console):
    lee = signed_in(console, "lee@acme.test")
    for path in ("/tickets/999999", "/tickets/abc", "/tickets/99999999999999999999999", "/tickets/-1"):
        assert lee.get(path).status_code == 404, path
    assert lee.post("/follow-ups/999999/acknowledge").status_code == 404
    assert lee.post(f"/follow-ups/{data['1001']['case']}/delete").status_code == 404
    signed_out = Client(console.url)
    resp = signed_out.get(f"/tickets/{data['1001']['ticket']}")
    assert resp.status_code == 303 and resp.headers["location"].startswith("/login")


def test_the_ticket_page_tells_what_the_customer_went_through(rt, data, console):
    lee = signed_in(console, "lee@acme.test")
    page = lee.get(f"/tickets/{data['1001']['ticket']}").text
    for step in ("Ticket created", "In team Tier 1", "Transferred to team Billing", "Reassigned to Amy Agent",
                 "First reply, after 1 d 10 h", "target 24 h", "Reopened", "(another channel)",
                 "Contacted us before this ticket:", "Survey sent", "Changed the answer to",
                 "Flagged for a follow-up", "Alert sent to lead-mail"):
        assert step in page, step
    assert page.index("In team Tier 1") < page.index("Transferred to team Billing") < page.index("Reopened")
    assert f'<a href="/tickets/{data["1000"]["ticket"]}" dir="auto">#1000</a>' in page  # the earlier contact
    escaped = COMMENT.replace("<", "&lt;").replace(">", "&gt;")
    assert f'<blockquote class="comment" dir="auto">{escaped}</blockquote>' in page
    assert 'href="https://acme.zendesk.com/agent/tickets/1001"' in page
    # No URL recorded (signals never collected): the connector's rule builds it from its settings.
    signal_only = signed_in(console, "ada@acme.test").get(f"/tickets/{data['3003']['ticket']}").text
    assert 'href="https://acme.zendesk.com/agent/tickets/3003"' in signal_only
    assert lee.get("/tickets?id=1001").headers["location"] == f"/tickets/{data['1001']['ticket']}"
    assert "No ticket #3003 among yours." in lee.get("/tickets?id=3003").text


# --- with a browser ------------------------------------------------------------------------------
def wait_for(browser, css: str, text: str):
    """Until the element (swapped in place by htmx, so looked up afresh each time) shows the text."""
    script = "const e = document.querySelector(arguments[0]); return e ? e.innerText : ''"
    WebDriverWait(browser, 10).until(lambda b: text in b.execute_script(script, css))


@pytest.mark.browser
def test_the_follow_up_loop_end_to_end_in_a_browser(rt, data, console, browser):
    case_id, css = data["1001"]["case"], f"#case-{data['1001']['case']}"
    sign_in(browser, console.url, "lee@acme.test", next_path="/follow-ups")
    assert browser.current_url.endswith("/follow-ups")
    screenshot(browser, "console-follow-ups")
    Select(browser.find_element(By.ID, f"owner-{case_id}")).select_by_visible_text("Amy Agent")
    browser.find_element(By.CSS_SELECTOR, f"{css} form.owner button").click()
    wait_for(browser, css, "Owner saved.")  # htmx swapped the card in place
    assert "Amy Agent" in browser.find_element(By.CSS_SELECTOR, f"{css} .case-facts").text
    sign_out(browser)

    sign_in(browser, console.url, "amy@acme.test", next_path="/follow-ups?mine=1")
    browser.find_element(By.CSS_SELECTOR, f"{css} form[action$='/acknowledge'] button").click()
    wait_for(browser, css, "Acknowledged.")
    focused = "return document.activeElement.textContent"
    WebDriverWait(browser, 5).until(lambda b: b.execute_script(focused) == "Acknowledged.")  # keyboard users too
    browser.find_element(By.CSS_SELECTOR, f"{css} details.followed-up summary").click()
    browser.find_element(By.ID, f"note-{case_id}").send_keys("Called Cara, refunded the fee")
    screenshot(browser, "console-follow-ups-note")
    browser.find_element(By.CSS_SELECTOR, f"{css} form[action$='/followed_up'] button").click()
    wait_for(browser, css, "Marked as followed up.")
    assert "Called Cara, refunded the fee" in browser.find_element(By.CSS_SELECTOR, css).text
    browser.find_element(By.CSS_SELECTOR, f"{css} a.case-ticket").click()
    WebDriverWait(browser, 10).until(lambda b: "/tickets/" in b.current_url)
    assert "Followed up by amy@acme.test" in browser.find_element(By.CSS_SELECTOR, ".timeline").text
    screenshot(browser, "console-ticket")

    browser.get(f"{console.url}/a/{token(data['1001']['links']['acknowledge'])}")
    text = browser.find_element(By.TAG_NAME, "main").text
    assert "State: followed up" in text and "Called Cara, refunded the fee" in text
    row = report_row(rt, "Billing", "Amy Agent")
    assert (row["acknowledged"], row["followed_up"], row["followed_up_within_days"]) == (1, 1, 1.0)
