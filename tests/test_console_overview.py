"""The Overview (/) and Teams and agents (/teams) pages: the numbers of `ces report` for the same
range and filters, within the caller's scope, each linking to the list behind it."""

from __future__ import annotations

import html
import re

import pytest
from selenium.webdriver.common.by import By

from ces.worker.queries.intervals import newcombe, wilson
from ces.worker.queries.reports import ces_report
from ces.worker.queries.scope import Scope
from ces.worker.web.app import create_app
from tests.console import Client, add_user, new_signed_in, screenshot, sign_in
from tests.report_data import SINCE, UNTIL, seed
from tests.support import ServedApp

RANGE = "from=2026-11-02&to=2026-11-29"  # SINCE … UNTIL − 1 day, both included


@pytest.fixture
def console(rt, app_port):
    seed(rt)
    with ServedApp(create_app(rt), app_port) as served:
        yield served


def cards(page: str) -> dict[str, tuple[str, str]]:
    """Each key number: its label → (value shown, where it links)."""
    found = re.findall(r'<span class="label">([^<]+)</span>\s*<a class="value" href="([^"]+)">([^<]+)</a>', page)
    return {label: (value, html.unescape(href)) for label, href, value in found}


def percent(share: float | None) -> str:
    return "–" if share is None else f"{share * 100:.0f}%"


def lines(page: str, caption: str) -> list[list[str]]:
    table = page.split(f"<caption>{caption}</caption>")[1].split("</table>")[0]
    return [[re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)]
            for row in re.findall(r"<tr[^>]*>(.*?)</tr>", table.split("<tbody>")[1], re.S)]


@pytest.mark.parametrize("db_url", ["sqlite", "postgresql"], indirect=True)
def test_the_overview_shows_what_ces_report_says_for_the_same_range_and_filters(rt, console):
    admin = new_signed_in(console, rt, "ada@acme.test", "admin")
    for query, by, key in ((RANGE, None, None), (f"{RANGE}&group=Billing", "group", "Billing"),
                           (f"{RANGE}&channel=email", "channel", "email")):
        page = admin.get(f"/?{query}")
        assert page.status_code == 200
        [report] = [row for row in ces_report(Scope.everything(), rt, SINCE, UNTIL, by=by)["rows"] if not by or row[by] == key]
        shown = cards(page.text)
        assert shown["CES"][0] == percent(report["ces"])
        assert shown["Mean score"][0] == f"{report['mean']:.2f}"
        assert shown["Responses"][0] == str(report["responses"])
        assert shown["Response rate"][0] == percent(report["response_rate"])
    everything = cards(admin.get(f"/?{RANGE}").text)
    assert everything["High-effort tickets"][0] == "35%"  # 5 low answers + 3 signal-only of 23 assessed tickets
    assert everything["CES"][1] == "/answers?from=2026-11-02&to=2026-11-29&scale=ces7&score=5-7"
    assert everything["High-effort tickets"][1].startswith("/follow-ups?from=2026-11-02")


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_overview_compares_with_the_period_before_and_shows_each_week_and_score(rt, console):
    page = new_signed_in(console, rt, "ada@acme.test", "admin").get(f"/?{RANGE}").text
    assert "compared with the 28 days before" in page
    assert '<span class="delta up"><span class="visually-hidden">Change against the period before: </span>' \
        '+66.7 pts</span>' in page  # CES 0% (one answer, 2) before; 67% now
    assert len(lines(page, "CES and responses per week (weeks start on Monday, UTC)")) == 4
    assert '<a href="/answers?from=2026-11-02&amp;to=2026-11-29&amp;scale=ces7&amp;score=7">7 · Strongly agree</a>' \
        in page


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_lead_sees_their_teams_and_an_agent_their_own_answers(rt, console):
    lead = new_signed_in(console, rt, "lee@acme.test", "lead", teams=("Billing",))
    page = lead.get(f"/?{RANGE}").text
    [billing] = [r for r in ces_report(Scope.everything(), rt, SINCE, UNTIL, by="group")["rows"] if r["group"] == "Billing"]
    assert cards(page)["Responses"][0] == str(billing["responses"])
    assert ">Returns<" not in page and "Cy Agent" not in page  # not a filter choice either
    assert lead.get(f"/?{RANGE}&group=Returns").text.count('<a class="value" href') == 5
    assert cards(lead.get(f"/?{RANGE}&group=Returns").text)["Responses"][0] == "0"

    amy = new_signed_in(console, rt, "AMY@acme.test", "agent")
    page = amy.get(f"/?{RANGE}&agent=cy@acme.test").text  # the agent filter is not an agent's to set
    assert cards(page)["Responses"][0] == "12"
    teams = amy.get(f"/teams?{RANGE}").text
    assert "Bob Agent" not in teams and "Cy Agent" not in teams and "<h2 id=\"h-teams\"" not in teams
    assert lines(teams, "CES per agent (the agent when the survey was sent)") == [
        ["Amy Agent", "12", "75%", "47%–91%", "5.25"]]  # alone: not ranked


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_teams_ranks_only_those_with_enough_answers(rt, console):
    page = new_signed_in(console, rt, "ada@acme.test", "admin").get(f"/teams?{RANGE}").text
    assert lines(page, "CES per team") == [["1", "Billing", "14", "64%", "39%–84%", "4.86"],
                                           ["–", "Returns", "4", "too few answers"]]
    agents = lines(page, "CES per agent (the agent when the survey was sent)")
    assert [a[:3] for a in agents] == [["1", "Amy Agent", "12"], ["–", "Cy Agent", "4"], ["–", "Bob Agent", "2"]]
    assert 'href="/answers?from=2026-11-02&amp;to=2026-11-29&amp;scale=ces7&amp;group=Billing"' in page


@pytest.mark.parametrize("db_url", ["sqlite", "postgresql"], indirect=True)
def test_drivers_are_sorted_by_the_ces_points_they_cost(rt, console):
    page = new_signed_in(console, rt, "ada@acme.test", "admin").get(f"/drivers?{RANGE}").text
    rows = lines(page, "Per driver: how often, CES with and without it, what it costs")
    # Transfers: on the 5 low answers (CES 0%) of 18; the other 13 answers: 12 easy. 5/18 × 12/13 = 25.6
    # points; 6 of the 8 high-effort tickets (5 low answers, 1 signal-only).
    assert rows[0][0] == "Transfers" and rows[0][1:5] == ["6 (26%)", "5 (28%)", "0%", "92%"]
    assert rows[0][5].startswith("25.6 (") and rows[0][6] == "75%"
    assert {r[0] for r in rows} == {"Transfers", "Reopens", "Repeat contacts", "Channel switches", "Slow first reply",
                                    "Long waits", "Repeated information"}
    assert [r[5] for r in rows[1:]] == ["–"] * 6  # no answer had them: no cost to tell
    assert 'href="/answers?from=2026-11-02&amp;to=2026-11-29&amp;scale=ces7&amp;driver=transfers"' in page


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_drivers_show_the_adopted_models_adjusted_odds_ratio_beside_the_cost(rt, console):
    from ces.worker.db.models import EffortModelRecord

    lead = new_signed_in(console, rt, "ada@acme.test", "admin")
    caption = "Per driver: how often, CES with and without it, what it costs"
    page = lead.get(f"/drivers?{RANGE}").text
    assert {r[7] for r in lines(page, caption)} == {"–"} and "none until a learned effort model is adopted" in page
    with rt.transaction() as s:  # a fit not adopted, then an adopted one, then another not adopted
        for adopted, effects in ((False, {"transfers": 9.0}), (True, {"transfers": 2.345, "reopens": 0.8}),
                                 (False, {"transfers": 7.0})):
            s.add(EffortModelRecord(fitted_at=rt.now(), since=rt.now(), until=rt.now(), answers=300, low=40,
                                    adopted=adopted, why="test", model=None, metrics={"effects": effects}, rules={}))
    page = lead.get(f"/drivers?{RANGE}").text
    rows = {r[0]: r[7] for r in lines(page, caption)}
    assert rows["Transfers"] == "2.35" and rows["Reopens"] == "0.80" and rows["Long waits"] == "–"
    assert "by the learned effort model (fit 2," in page


def test_wilson_and_newcombe_give_the_published_values():
    # Newcombe (1998), table II and the worked example of method 10.
    assert [round(x, 4) for x in wilson(81, 263)] == [0.2553, 0.3662]
    assert [round(x, 4) for x in wilson(15, 148)] == [0.0624, 0.1605]
    assert [round(x, 4) for x in wilson(0, 20)] == [0.0, 0.1611]
    assert [round(x, 4) for x in newcombe(56, 70, 48, 80)] == [0.0524, 0.3339]
    assert wilson(0, 0) is None and newcombe(1, 2, 0, 0) is None


@pytest.mark.browser
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_lead_reads_the_overview_chart_and_the_teams_in_a_browser(rt, console, browser):
    add_user(rt, "lee@acme.test", "lead", teams=("Billing", "Returns"), name="Lee Lead")
    sign_in(browser, console.url, "lee@acme.test", next_path=f"/?{RANGE.replace('&', '%26')}")
    assert browser.find_element(By.TAG_NAME, "h1").text == "Overview"
    drawn = browser.execute_script("var c = document.getElementById('trend-chart');"
                                   "return !!(window.Chart && window.Chart.getChart(c));")
    assert drawn, "Chart.js drew the trend from its table"
    screenshot(browser, "console-overview")
    browser.find_element(By.CSS_SELECTOR, "nav a[href='/teams']").click()
    assert browser.find_element(By.TAG_NAME, "h1").text == "Teams and agents"
    browser.get(f"{console.url}/teams?{RANGE}")
    screenshot(browser, "console-teams")
    browser.get(f"{console.url}/drivers?{RANGE}")
    assert browser.find_element(By.TAG_NAME, "h1").text == "What makes it hard"
    screenshot(browser, "console-drivers")


def answers_total(c: Client, href: str) -> int:
    page = c.get(html.unescape(href))
    assert page.status_code == 200, (href, page.status_code)
    found = re.search(r"of ([\d,]+) answers", page.text)
    return int(found.group(1).replace(",", "")) if found else 0


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_every_number_opens_the_answers_behind_it(rt, console):
    """The drill-down links of the three pages open the answers page on the same rows: the responses,
    the easy ones, a team's and an agent's answers, the answers of the tickets with a driver."""
    lead = new_signed_in(console, rt, "lee@acme.test", "lead")
    overview = lead.get(f"/?{RANGE}").text
    shown = cards(overview)
    assert answers_total(lead, shown["Responses"][1]) == int(shown["Responses"][0])
    report = ces_report(Scope.everything(), rt, SINCE, UNTIL)["rows"][0]
    assert answers_total(lead, shown["CES"][1]) == round(report["ces"] * report["responses"])
    teams = lead.get(f"/teams?{RANGE}").text
    links = dict((re.sub(r"<[^>]+>", "", text).strip(), href) for href, text in
                 re.findall(r'<a href="(/answers\?[^"]+)">(.*?)</a>', teams))
    assert answers_total(lead, links["Billing"]) == 14  # Amy's 12 and Bob's 2 answers
    assert answers_total(lead, links["Amy Agent"]) == 12  # by her e-mail, as the page matches agents
    drivers = lead.get(f"/drivers?{RANGE}").text
    transfers = re.search(r'<a href="(/answers\?[^"]+driver=transfers[^"]*)"', drivers).group(1)
    assert answers_total(lead, transfers) == 5  # the five low answers were transferred
    for href in set(re.findall(r'href="(/answers\?[^"]+)"', overview + teams + drivers)):
        answers_total(lead, href)  # each one opens (200), whatever it carries


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_day_out_of_the_calendars_reach_leaves_the_range_at_its_default(rt, console):
    """A year typed as 0026 in a date box, or 9999: the report pages keep their default for that end."""
    admin = new_signed_in(console, rt, "ada@acme.test", "admin")
    for path in ("/", "/teams", "/drivers", "/follow-ups"):
        for query in ("from=0026-11-07&to=2026-11-29", "from=9999-12-31&to=9999-12-31", "to=0001-01-05"):
            page = admin.get(f"{path}?{query}")
            assert page.status_code == 200, (path, query)
    page = admin.get("/?from=0026-11-07&to=2026-11-29").text
    assert 'min="1900-01-01" max="2999-12-31" value="2026-10-31"' in page  # the 30 days up to `to`
    assert "Not a day between 1900-01-01 and 2999-12-31: 0026-11-07. The range shown is the default" in page
    page = admin.get("/teams?from=%3Cb%3Ex%3C/b%3E&to=2026-11-29").text
    assert "Not a day between 1900-01-01 and 2999-12-31: &lt;b&gt;x&lt;/b&gt;." in page
    assert "Not a day" not in admin.get(f"/?{RANGE}").text


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_page_that_fails_is_a_page_with_the_consoles_headers_and_tells_nothing_stored(rt, console, monkeypatch):
    from ces.worker.console import overview

    admin = new_signed_in(console, rt, "ada@acme.test", "admin")

    def broken(*_args, **_kw):
        raise RuntimeError("the database said something it should not have")

    monkeypatch.setattr(overview.ces, "summary", broken)
    page = admin.get(f"/?{RANGE}")
    assert page.status_code == 500 and "Something went wrong" in page.text
    assert "should not have" not in page.text and "script-src 'self'" in page.headers["content-security-policy"]
    monkeypatch.undo()
    assert admin.get(f"/?{RANGE}").status_code == 200


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_surveys_without_a_team_or_agent_are_shown_last_never_ranked_nor_linked(rt, console):
    from datetime import datetime, timedelta, timezone

    from ces.worker.db.models import Answer, Ticket
    from tests.planted import solved_and_surveyed

    with rt.transaction() as s:  # twelve easy answers on tickets nobody was assigned: the best CES of all
        for n in range(12):
            at = datetime(2026, 11, 3 + n, 9, tzinfo=timezone.utc)
            t = Ticket(connector_id="zendesk-main", external_id=str(900 + n), solve_count=1, reopen_count=0,
                       created_at=at, updated_at=at, last_solved_at=at, channel="email")
            s.add(t)
            s.flush()
            v = solved_and_surveyed(s, t, at, token=f"none{n}", state="sent", scale="ces7", send_after=at,
                                    created_at=at, sent_at=at, channel="email", attempts=1, locale="en")
            s.add(Answer(survey_id=v.id, scale="ces7", score=7, answered_at=at + timedelta(hours=1),
                         updated_at=at + timedelta(hours=1)))
    page = new_signed_in(console, rt, "ada@acme.test", "admin").get(f"/teams?{RANGE}").text
    assert lines(page, "CES per team") == [["1", "Billing", "14", "64%", "39%–84%", "4.86"],
                                           ["–", "Returns", "4", "too few answers"],
                                           ["–", "(none)", "12", "100%", "76%–100%", "7.00"]]
    agents = lines(page, "CES per agent (the agent when the survey was sent)")
    assert [a[:3] for a in agents] == [["1", "Amy Agent", "12"], ["–", "Cy Agent", "4"], ["–", "Bob Agent", "2"],
                                       ["–", "(none)", "12"]]
    assert '<th scope="row" dir="auto">(none)</th>' in page  # no link: the answers page cannot filter on "none"


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_week_without_surveys_between_two_with_them_is_shown_empty(rt, console):
    page = new_signed_in(console, rt, "ada@acme.test", "admin").get("/?from=2026-10-19&to=2026-11-29").text
    weeks = lines(page, "CES and responses per week (weeks start on Monday, UTC)")
    assert [w[:3] for w in weeks] == [["2026-10-19", "1", "0%"], ["2026-10-26", "0", "–"], ["2026-11-02", "5", "80%"],
                                      ["2026-11-09", "6", "67%"], ["2026-11-16", "4", "75%"], ["2026-11-23", "3", "33%"]]
