"""Nothing of an erased customer is left, nor of an expired one after retention: one marker address,
name and comment go in through every path (each helpdesk's webhook, the survey, the answer and its
change, an alert on every route, the write-back, the stored history), and afterwards every column of
every table the database's own catalog lists is searched for them. A table added later (an answer
history, say) is searched without anyone remembering to add it here."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select, text

from ces.connectors.standard_webhooks import headers as signed_headers
from ces.worker.alerts.followup import act
from ces.worker.db.engine import make_engine
from ces.worker.db.models import Alert, OptOut, Survey
from ces.worker.events import process_event
from ces.worker.privacy import apply_retention, normalize_email
from ces.worker.queries.reports import ces_report
from ces.worker.queries.scope import Scope
from ces.worker.scheduler import tick
from ces.worker.surveys.answers import record_answer, unsubscribe
from tests.alerts_data import (
    CRM_HOOK,
    LEAD_MAIL,
    NOTE,
    SLACK_ROUTE,
    TEAMS_ROUTE,
    WHSEC,
    alerts_section,
    mock_routes,
    set_route_secrets,
)
from tests.conftest import OTHER_SECRETS, ZENDESK_CONNECTOR, other_helpdesks
from tests.pipeline import deliver, mock_history, mock_ticket, receive
from tests.support import cli, fixture_bytes

EMAIL = "Quilla_Marker.7@Example.ORG"  # "_" and "." are LIKE and regex specials: matched literally
FIRST, LAST = "Quíllon", "Markerly"
NAME = f"{FIRST} {LAST}"
COMMENTS = ["zebrawhisper: the first answer's words", "okapimurmur: the changed answer's words"]
# Compared case-insensitively (casefold), so every case variant of each counts, and so does the
# normalized address; the local part alone is personal data too.
MARKERS = [EMAIL, normalize_email(EMAIL), EMAIL.split("@")[0], FIRST, LAST, "zebrawhisper", "okapimurmur"]

CONNECTORS = ZENDESK_CONNECTOR + other_helpdesks("generic", "freshdesk", "front", "helpscout", "intercom", "zammad")
ROUTES = alerts_section(120, {"note": NOTE, "slack": SLACK_ROUTE, "teams": TEAMS_ROUTE,
                              "mail": LEAD_MAIL + "to_assignee = true\n", "crm": CRM_HOOK})
# The customer of each helpdesk's fixture becomes the marker customer, the address in another case
# each time (a helpdesk keeps it as the customer typed it).
PEOPLE = [("maria.garcia@example.com", EMAIL.lower()), ("leela@planet-express.com", EMAIL.upper()),
          ("emily@example.com", EMAIL), ('"leela"', f'"{EMAIL.split("@")[0]}"'), ("María", FIRST), ("García", LAST),
          ("Leela", FIRST), ("Turanga", LAST), ("Emily", FIRST), ("Adams", LAST)]
OTHER_HELPDESKS = [  # webhooks whose payloads name the customer: stored and processed, never surveyed here
    ("freshdesk-main", "freshdesk", "status_resolved.json", {}),
    ("front-main", "front", "rule_archive.json", {}),
    ("helpscout-main", "helpscout", "webhook_convo_status_closed.json", {"X-HelpScout-Event": "convo.status"}),
    ("intercom-main", "intercom", "conversation_admin_closed.json", {}),
    ("zammad-main", "zammad", "webhook_state_closed.json", {"X-Zammad-Delivery": "zm-1", "X-Zammad-Trigger": "CES"}),
]


def as_marker_customer(body: bytes) -> bytes:
    text_ = body.decode()
    for fixture_value, marker in PEOPLE:
        text_ = text_.replace(fixture_value, marker)
    return text_.encode()


# --- the catalog scan ---------------------------------------------------------------------------------
def _columns(conn) -> list[tuple[str, str]]:
    """Every column of every table, as the database lists them (not as our models say)."""
    if conn.dialect.name == "postgresql":
        return [tuple(r) for r in conn.execute(text(
            "SELECT c.table_name, c.column_name FROM information_schema.columns c JOIN information_schema.tables t "
            "ON t.table_schema = c.table_schema AND t.table_name = c.table_name "
            "WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE'"))]
    tables = conn.execute(text("SELECT name FROM sqlite_master WHERE type = 'table'")).scalars().all()
    return [(t, row[1]) for t in tables for row in conn.execute(text(f'PRAGMA table_info("{t}")'))]


def _readable(value: str) -> str:
    """JSON as its strings read (SQLite stores it with \\u escapes), other values as they are."""
    if value[:1] in ('{', '[', '"'):
        try:
            return json.dumps(json.loads(value), ensure_ascii=False)
        except ValueError:
            pass
    return value


def leftovers(db_url: str, tables: set[str] | None = None) -> list[str]:
    """'table.column: marker' for each marker still found, searched in every column cast to text
    (a superset of the text and JSON columns), case-insensitively."""
    engine = make_engine(db_url)
    found = []
    try:
        with engine.connect() as conn:
            columns = _columns(conn)
            assert {"surveys", "answers", "alerts", "webhook_events"} <= {t for t, _ in columns}
            for table, column in columns:
                if tables and table not in tables:
                    continue
                for (value,) in conn.execute(text(f'SELECT CAST("{column}" AS TEXT) FROM "{table}" '
                                                  f'WHERE "{column}" IS NOT NULL')):
                    readable = _readable(value).casefold()
                    found += [f"{table}.{column}: {m}" for m in MARKERS if m.casefold() in readable]
    finally:
        engine.dispose()
    return sorted(set(found))


# --- planting the markers everywhere ----------------------------------------------------------------
@pytest.fixture
def remote(zendesk_api):
    """Zendesk (ticket, history, note, tags), Slack, Teams and a CRM, at their HTTP boundary."""
    mock_ticket(zendesk_api, email=EMAIL, name=NAME, locale="en")
    mock_history(zendesk_api)
    return mock_routes(zendesk_api)


def runtime(config, make_rt, clock, monkeypatch, sink, extra: str = ""):
    set_route_secrets(monkeypatch, TEST_GENERIC_SECRET=WHSEC, **OTHER_SECRETS)
    # No fatigue rule: the same customer is surveyed on two helpdesks at once.
    config.write(connectors=CONNECTORS, extra=ROUTES + extra, smtp_port=sink.port, survey="fatigue_days = 0")
    return make_rt(clock=clock)


def run(rt, queue):
    for _ in range(3):
        tick(rt)
        queue.drain(rt)


def generic(rt, fixture: str, msg_id: str, ticket_id: str) -> None:
    envelope = json.loads(as_marker_customer(fixture_bytes("generic", fixture)))
    envelope["data"]["ticket_id"] = ticket_id
    body = json.dumps(envelope).encode()
    deliver(rt, "generic-main", body, signed_headers(WHSEC, msg_id, int(rt.now().timestamp()), body))


def answer_twice(rt, queue, clock, survey: Survey) -> None:
    """A low answer with a comment (alerts on every route, the write-back), then a changed score with
    another comment (updates quoting the earlier comment, a second write-back)."""
    for score, comment in ((2, COMMENTS[0]), (1, COMMENTS[1])):
        record_answer(rt, survey.token, score, comment, how="form")
        clock.advance(121)
        run(rt, queue)


def plant(rt, queue, clock, sink) -> list[Survey]:
    receive(rt, "status_changed_solved.json", "inv-1")  # Zendesk: the person comes from its API
    generic(rt, "ticket_updated_transfer.json", "msg-1", "48213")  # described by its webhooks alone
    generic(rt, "ticket_solved.json", "msg-2", "48213")
    generic(rt, "ticket_updated_transfer.json", "msg-3", "48299")  # never solved, never surveyed
    run(rt, queue)
    with rt.transaction() as s:
        sent = list(s.scalars(select(Survey).where(Survey.state == "sent").order_by(Survey.id)))
    assert [(x.connector_id, x.email) for x in sent] == [("zendesk-main", EMAIL), ("generic-main", EMAIL.lower())]
    assert len(sink.messages) == 2
    for survey in sent:
        answer_twice(rt, queue, clock, survey)
    with rt.transaction() as s:  # whoever followed it up names the customer in their note
        links = [a.content["links"] for a in s.scalars(select(Alert).where(Alert.kind == "alert", Alert.route == "note"))]
    for link in links:
        act(rt, link["followed_up"].split("/a/")[1], "Lead", f"Called {NAME} back: refund agreed")
    for connector, kind, fixture, headers in OTHER_HELPDESKS:
        [event_id] = deliver(rt, connector, as_marker_customer(fixture_bytes(kind, fixture)), headers, verify=False)
        process_event(rt, event_id)  # the ticket and solve; its survey would ask that helpdesk's API
    queue.items.clear()
    return sent


def alert_routes(rt) -> set[str]:
    with rt.engine.connect() as conn:
        return set(conn.execute(text("SELECT route_type || ':' || state FROM alerts")).scalars())


# --- the tests -----------------------------------------------------------------------------------------
def test_erase_leaves_nothing_of_the_customer_anywhere(config, make_rt, clock, queue, sink, remote, monkeypatch,
                                                       capsys, db_url):
    rt = runtime(config, make_rt, clock, monkeypatch, sink)
    sent = plant(rt, queue, clock, sink)
    unsubscribe(rt, sent[0].token)
    assert {"note:sent", "slack:sent", "teams:sent", "email:sent", "webhook:sent", "tags:sent"} <= alert_routes(rt)
    before = leftovers(db_url)
    for table in ("surveys", "answers", "answer_history", "alerts", "follow_ups", "ticket_histories", "webhook_events"):
        assert any(hit.startswith(f"{table}.") for hit in before), f"nothing planted in {table}"

    code, out, _ = cli(capsys, "erase", "--email", f"  {normalize_email(EMAIL).upper()} ")
    assert code == 0, out

    assert leftovers(db_url) == []
    with rt.transaction() as s:
        assert len(s.scalars(select(OptOut)).all()) == 1  # kept, as a keyed hash: never surveyed again
    today = rt.now().date()
    [row] = ces_report(Scope.everything(), rt, today - timedelta(days=1), today + timedelta(days=1))["rows"]
    assert (row["surveys_sent"], row["responses"], row["mean"]) == (2, 2, 1.0)  # the scores still count


def test_retention_leaves_nothing_of_an_expired_customer(config, make_rt, clock, queue, sink, remote, monkeypatch,
                                                         db_url):
    rt = runtime(config, make_rt, clock, monkeypatch, sink,
                              extra="\n[retention]\npayload_days = 30\nanswer_days = 365\n")
    plant(rt, queue, clock, sink)

    def retention():
        done = apply_retention(rt)
        while any(done.values()):  # a pass works through a bounded batch; the scheduler runs it every minute
            done = apply_retention(rt)

    retention()
    assert leftovers(db_url, {"webhook_events"}) != []
    clock.advance(31 * 86400)
    retention()
    assert leftovers(db_url, {"webhook_events"}) == []  # raw bodies, and the person in what webhooks described
    assert leftovers(db_url) != []  # answers are kept for a year
    clock.advance(335 * 86400)
    retention()
    assert leftovers(db_url) == []
    with rt.transaction() as s:
        assert [x.email for x in s.scalars(select(Survey).where(Survey.state == "sent"))] == [None, None]


def test_erasing_a_connectors_data_takes_its_rows_in_batches_and_leaves_the_others(
        config, make_rt, clock, queue, sink, remote, monkeypatch):
    """What a console connector's delete page does with "Erase it" (privacy.erase_connector)."""
    from ces.worker import privacy

    rt = runtime(config, make_rt, clock, monkeypatch, sink)
    plant(rt, queue, clock, sink)
    tables = ("webhook_events", "tickets", "surveys", "follow_ups", "daily_rollups")

    def rows(connector: str) -> dict[str, int]:
        with rt.engine.connect() as conn:
            found = {t: conn.execute(text(f'SELECT count(*) FROM "{t}" WHERE connector_id = :c'), {"c": connector})
                     .scalar() for t in tables}
            found["alerts"] = conn.execute(text("SELECT count(*) FROM alerts a JOIN surveys s ON s.id = a.survey_id "
                                                "WHERE s.connector_id = :c"), {"c": connector}).scalar()
            found["answers"] = conn.execute(text("SELECT count(*) FROM answers a JOIN surveys s ON s.id = a.survey_id "
                                                 "WHERE s.connector_id = :c"), {"c": connector}).scalar()
        return found

    before, others = rows("zendesk-main"), rows("generic-main")
    assert all(before[t] for t in ("webhook_events", "tickets", "surveys", "follow_ups", "alerts", "answers")), before
    monkeypatch.setattr(privacy, "BATCH", 2)  # several batches of each
    erased = privacy.erase_connector(rt, "zendesk-main")
    assert rows("zendesk-main") == dict.fromkeys(before, 0)
    assert rows("generic-main") == others
    assert erased["events"] == before["webhook_events"] and erased["tickets"] == before["tickets"]
    assert erased["surveys"] == before["surveys"] and erased["alerts"] == before["alerts"]
    with rt.engine.connect() as conn:  # the cascades: nothing of its tickets left behind them
        for table in ("ticket_histories", "ticket_signals", "assessments", "solves", "jobs"):
            orphans = conn.execute(text(f'SELECT count(*) FROM "{table}" x WHERE x.ticket_pk IS NOT NULL AND NOT '
                                        f'EXISTS (SELECT 1 FROM tickets t WHERE t.id = x.ticket_pk)')).scalar()
            assert orphans == 0, table
