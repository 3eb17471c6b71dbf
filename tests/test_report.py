"""`ces report`: the cohort is the surveys sent in the range; CES is the share of 5–7."""

from __future__ import annotations

import json
from datetime import date, datetime, timezone

import pytest

from ces.worker.db.models import Answer, Ticket
from ces.worker.queries.reports import ces_report
from ces.worker.queries.scope import Scope
from tests.planted import solved_and_surveyed


def seed(rt, rows):
    """rows: (sent_at, state, score or None, connector, channel)."""
    now = datetime.now(timezone.utc)
    with rt.transaction() as s:
        for i, (sent_at, state, score, connector, channel) in enumerate(rows):
            t = Ticket(connector_id=connector, external_id=str(i), solve_count=1, reopen_count=0, created_at=now,
                       updated_at=now)
            s.add(t)
            s.flush()
            v = solved_and_surveyed(s, t, sent_at, token=f"tok{i}", state=state, scale="ces7", send_after=sent_at,
                                    created_at=sent_at, sent_at=sent_at if state == "sent" else None, channel=channel,
                                    attempts=1)
            if score is not None:
                s.add(Answer(survey_id=v.id, scale="ces7", score=score, answered_at=sent_at, updated_at=sent_at))


D = lambda day, hour=12: datetime(2026, 11, day, hour, tzinfo=timezone.utc)  # noqa: E731


@pytest.fixture
def seeded(rt):
    seed(rt, [
        (D(2), "sent", 7, "zendesk-main", "email"),
        (D(3), "sent", 5, "zendesk-main", "email"),
        (D(4), "sent", 3, "zendesk-main", "chat"),
        (D(5), "sent", None, "zendesk-main", "chat"),
        (D(6), "sent", 1, "zendesk-eu", "email"),
        (D(6), "failed", None, "zendesk-eu", "email"),  # never sent: not in the cohort
        (D(20), "sent", 6, "zendesk-main", "email"),  # outside the range below
    ])
    return rt


def test_ces_is_the_share_of_5_to_7_with_the_mean_beside_it(seeded):
    report = ces_report(Scope.everything(), seeded, date(2026, 11, 1), date(2026, 11, 10))
    assert report == {"since": "2026-11-01", "until": "2026-11-10", "scale": "ces7", "rows": [
        {"surveys_sent": 5, "responses": 4, "response_rate": 0.8, "ces": 0.5, "mean": 4.0}]}


def test_until_is_exclusive(seeded):
    rows = ces_report(Scope.everything(), seeded, date(2026, 11, 2), date(2026, 11, 3))["rows"]
    assert rows[0]["surveys_sent"] == 1


def test_no_responses_gives_nulls(seeded):
    rows = ces_report(Scope.everything(), seeded, date(2026, 11, 5), date(2026, 11, 6))["rows"]
    assert rows == [{"surveys_sent": 1, "responses": 0, "response_rate": 0.0, "ces": None, "mean": None}]


def test_nothing_sent_gives_one_empty_row(seeded):
    rows = ces_report(Scope.everything(), seeded, date(2025, 1, 1), date(2025, 2, 1))["rows"]
    assert rows == [{"surveys_sent": 0, "responses": 0, "response_rate": None, "ces": None, "mean": None}]


def test_by_connector_and_channel(seeded):
    rows = ces_report(Scope.everything(), seeded, date(2026, 11, 1), date(2026, 11, 10), by="connector")["rows"]
    assert [(r["connector"], r["surveys_sent"], r["ces"]) for r in rows] == [("zendesk-eu", 1, 0.0),
                                                                             ("zendesk-main", 4, 0.6667)]
    rows = ces_report(Scope.everything(), seeded, date(2026, 11, 1), date(2026, 11, 10), by="channel")["rows"]
    assert [(r["channel"], r["responses"]) for r in rows] == [("chat", 1), ("email", 3)]


def test_by_week_starts_on_monday(seeded):
    rows = ces_report(Scope.everything(), seeded, date(2026, 11, 1), date(2026, 11, 30), by="week")["rows"]
    # 2026-11-02 and 2026-11-16 are Mondays; the 2nd to the 6th fall in one week.
    assert [(r["week"], r["surveys_sent"]) for r in rows] == [("2026-11-02", 5), ("2026-11-16", 1)]


def test_the_cli_prints_json_and_csv(seeded, capsys):
    from ces.worker.cli import main

    with pytest.raises(SystemExit) as done:
        main(["report", "--since", "2026-11-01", "--until", "2026-11-10", "--format", "json"])
    assert done.value.code == 0
    out = json.loads(capsys.readouterr().out)
    assert out["rows"][0]["ces"] == 0.5 and out["scale"] == "ces7"
    with pytest.raises(SystemExit):
        main(["report", "--since", "2026-11-01", "--until", "2026-11-10", "--format", "csv", "--by", "channel"])
    assert capsys.readouterr().out.splitlines() == [
        "channel,surveys_sent,responses,response_rate,ces,mean", "chat,2,1,0.5,0.0,3.0", "email,3,3,1.0,0.6667,4.33"]


def test_the_cli_table_shows_percentages(seeded, capsys):
    from ces.worker.cli import main

    with pytest.raises(SystemExit):
        main(["report", "--since", "2026-11-01", "--until", "2026-11-10"])
    out = capsys.readouterr().out
    assert "80.0%" in out and "50.0%" in out and "4.0" in out


@pytest.mark.parametrize("args", [["--since", "yesterday"], ["--scale", "nps"], ["--by", "planet"],
                                  ["--since", "2026-11-10", "--until", "2026-11-01"]])
def test_bad_report_options_are_usage_errors(rt, capsys, args):
    from ces.worker.cli import main

    with pytest.raises(SystemExit) as done:
        main(["report", *args])
    assert done.value.code == 2
