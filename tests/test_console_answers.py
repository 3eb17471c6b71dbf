"""The answers page (/answers and its CSV): what a lead reads of the customers' own words, found in
any language, filtered as the reports count, and never another agent's or team's answers."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from selenium.webdriver.common.by import By

from ces.worker.console.answers import safe_cell
from ces.worker.queries import answers
from ces.worker.queries.answers import AnswerFilter
from ces.worker.queries.reports import ces_report
from ces.worker.queries.scope import Scope
from ces.worker.web.app import create_app
from tests.answers_data import ANSWERS, RANGE, SENT, plant
from tests.console import Client, add_user, new_signed_in, screenshot, sign_in, submit
from tests.node_tools import axe_scan
from tests.support import ServedApp


@pytest.fixture
def planted(rt):
    pks = {external: plant(rt, external, *values) for external, values in ANSWERS.items()}
    plant(rt, "120", "Billing", "amy@acme.test", "Amy", "en", "ces7", 1, "a scanner's click", state="discarded")
    plant(rt, "121", "Billing", "amy@acme.test", "Amy", "en", "ces7", 1, "long ago", sent=SENT - timedelta(days=40))
    return pks


def tickets(rt, scope: Scope = Scope.everything(), **filters) -> list[str]:
    with rt.transaction() as s:
        return [row.ticket for row in answers.page(s, scope, AnswerFilter(**{**RANGE, **filters}), offset=0, limit=50)]


# --- the query, on both databases ---------------------------------------------------------------
def test_the_list_is_the_reports_responses_newest_first(rt, planted):
    assert tickets(rt) == ["108", "107", "106", "105", "104", "103", "102", "101"]  # not discarded, not out of range
    report = ces_report(Scope.everything(), rt, RANGE["since"], RANGE["until"], scale="ces7")["rows"][0]
    assert len(tickets(rt, scale="ces7")) == report["responses"] == 7
    with rt.transaction() as s:
        assert answers.count(s, Scope.everything(), AnswerFilter(**RANGE)) == 8


@pytest.mark.parametrize(("query", "found"), [
    ("three", ["101"]),  # any case
    ("待たされ", ["102"]),  # Japanese: no spaces between words, found inside the sentence
    ("三回", ["102"]),
    ("해결", ["103"]),  # Korean
    ("انتظرت", ["104"]),  # Arabic
    ("100%", ["105"]),  # % and _ are the customer's characters, not wildcards
    ("1_0", []),
    ("explain times", ["101"]),  # every word, in any order
    ("explain danke", []),
])
def test_comments_are_found_by_their_words_in_any_language(rt, planted, query, found):
    assert tickets(rt, q=query) == found


def test_filters_narrow_the_list(rt, planted):
    assert tickets(rt, low=True) == ["106", "104", "102", "101"]  # 5 of 5 on effort5 is high effort
    assert tickets(rt, group="Returns", with_comment=True) == ["104", "103"]
    assert tickets(rt, agent="Bob", language="en") == ["108", "107"]
    assert tickets(rt, scale="effort5") == ["104"]
    assert tickets(rt, score=(2, 2)) == ["101"]
    assert tickets(rt, score=(5, 7), scale="ces7") == ["108", "105", "103"]


def test_each_role_sees_only_its_answers(rt, planted):
    lead = Scope("lead", ("Returns",))
    agent = Scope("agent", agent_email="amy@acme.test")
    assert tickets(rt, lead) == ["107", "104", "103"]
    assert tickets(rt, agent) == ["106", "105", "103", "101"]
    with rt.transaction() as s:
        assert answers.choices(s, agent, **RANGE)["agent"] == ["Amy"]
        assert answers.choices(s, lead, **RANGE)["group"] == ["Returns"]


def test_a_spreadsheet_formula_in_a_comment_stays_text():
    assert safe_cell('=HYPERLINK("x")') == "'=HYPERLINK(\"x\")"
    assert [safe_cell(v) for v in ("+1", "-2", "@x", "\tx", "fine = good", None)] == \
        ["'+1", "'-2", "'@x", "'\tx", "fine = good", ""]


# --- over HTTP, as the browser and a curious agent use it ---------------------------------------
@pytest.fixture
def console(rt, app_port):
    with ServedApp(create_app(rt), app_port) as served:
        yield served


QUERY = "since=2026-11-19&until=2026-11-21"


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_page_shows_the_words_escaped_and_only_the_callers(rt, planted, console):
    amy = new_signed_in(console, rt, "amy@acme.test", "agent")
    page = amy.get(f"/answers?{QUERY}")
    assert page.status_code == 200
    assert "I had to explain it THREE times" in page.text and "빠르게" in page.text
    assert "何度も" not in page.text and "alert(" not in page.text  # Bob's answers
    lead = new_signed_in(console, rt, "lee@acme.test", "lead")
    page = lead.get(f"/answers?{QUERY}&q=fine")
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; fine" in page.text and "<script>alert" not in page.text
    assert 'dir="auto"' in page.text and "One answer" in page.text


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_csv_holds_what_the_page_shows_and_no_formula(rt, planted, console):
    amy = new_signed_in(console, rt, "amy@acme.test", "agent")
    resp = amy.get(f"/answers.csv?{QUERY}")
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/csv")
    assert 'filename="answers-2026-11-19-2026-11-21.csv"' in resp.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(resp.text)))
    assert [r["ticket"] for r in rows] == ["106", "105", "103", "101"]  # Amy's only
    assert rows[0]["comment"].startswith("'=HYPERLINK")
    lead = new_signed_in(console, rt, "lee@acme.test", "lead", teams=("Returns",))
    rows = list(csv.DictReader(io.StringIO(lead.get(f"/answers.csv?{QUERY}&q=%D8%A7%D9%86%D8%AA%D8%B8%D8%B1%D8%AA").text)))
    assert [(r["ticket"], r["scale"], r["score"]) for r in rows] == [("104", "effort5", "5")]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("query", ["since=yesterday", "since=2026-11-21&until=2026-11-20", "scale=nps", "score=9",
                                   "q=" + "x" * 201, "from=0026-11-07&to=2026-11-20", "to=9999-12-31"])
def test_a_bad_filter_is_a_clear_400(rt, console, query):
    lead = new_signed_in(console, rt, "lee@acme.test", "lead")
    for path in ("/answers", "/answers.csv"):
        resp = lead.get(f"{path}?{query}")
        assert resp.status_code == 400 and "This filter cannot be used" in resp.text


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_signed_out_the_answers_are_a_sign_in(rt, planted, console):
    for path in ("/answers", "/answers.csv"):
        resp = Client(console.url).get(f"{path}?{QUERY}")
        assert resp.status_code == 303 and resp.headers["location"].startswith("/login?next=")


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_pages_of_fifty(rt, console):
    for n in range(1, 56):
        plant(rt, str(1000 + n), "Billing", "amy@acme.test", "Amy", "en", "ces7", 6, f"comment {n}")
    lead = new_signed_in(console, rt, "lee@acme.test", "lead")
    first = lead.get(f"/answers?{QUERY}")
    assert "1–50 of 55 answers" in first.text and "Page 1 of 2" in first.text and "comment 55" in first.text
    second = lead.get(f"/answers?{QUERY}&page=2")
    assert "51–55 of 55 answers" in second.text and "comment 5<" in second.text and "comment 55" not in second.text
    assert "51–55 of 55" in lead.get(f"/answers?{QUERY}&page=99").text  # past the end: the last page


@pytest.mark.browser
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_lead_searches_the_comments_in_the_browser(rt, planted, console, browser):
    add_user(rt, "lee@acme.test", "lead", teams=("Billing", "Returns"), name="Lee Lead")
    sign_in(browser, console.url, "lee@acme.test", next_path=f"/answers?{QUERY}")
    assert len(browser.find_elements(By.CSS_SELECTOR, "li.answer")) == 8
    screenshot(browser, "console-answers")
    assert axe_scan(browser) == []
    box = browser.find_element(By.ID, "f-q")
    box.send_keys("待たされ")
    submit(browser, "form.filters button[type=submit]")
    found = browser.find_elements(By.CSS_SELECTOR, "li.answer blockquote.comment")
    assert [c.text for c in found] == [ANSWERS["102"][6]]
    assert found[0].get_attribute("lang") == "ja"
