"""The rebuild's fast path gives exactly what the Python definitions give.

`compute_rows` reads the stored JSON without building models (`signals_from_json`, the tuple form
of the signal definitions, and `effort.assessment`); `reference_rows` is the rebuild as it was:
TicketHistory and Contact models, `compute_signals`, `assess`, `model_dump`. Any history the models
can store, with any contacts, solve time, answer and settings, gives the same rows both ways; and a
rebuild on SQLite and PostgreSQL (in worker processes, written with COPY) stores the same rows as
the reference path does.
"""

from __future__ import annotations

import json
import random
from datetime import date, datetime, timedelta, timezone
from types import SimpleNamespace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from sqlalchemy import select

from ces.config.models import EffortSettings, SignalSettings
from ces.connectors.models import Actor, Channel, EntryKind, HistoryEntry, Person, Status, Ticket, TicketHistory
from ces.worker.db.models import AssessmentRecord, TicketHistoryRecord, TicketSignalsRecord
from ces.worker.db.models import Ticket as TicketRow
from ces.worker.signals.definitions import Contact, Unusual, signals_from_json
from ces.worker.signals.rebuild import (
    ASSESSMENT_COLUMNS,
    SIGNAL_COLUMNS,
    _upsert_many,
    compute_rows,
    rebuild,
    reference_rows,
)
from tests import test_signals

zendesk_history = test_signals.zendesk_history  # the fixture: ticket 5158 as the Zendesk connector reads it
T0 = datetime(2026, 11, 20, 9, 0, tzinfo=timezone.utc)
NOW = datetime(2026, 11, 30, 12, 0, tzinfo=timezone.utc)
ZONES = st.sampled_from([timezone.utc, timezone(timedelta(hours=2)), timezone(timedelta(hours=-5, minutes=-30))])
times = st.datetimes(min_value=datetime(2026, 11, 10), max_value=datetime(2026, 11, 30), timezones=ZONES)
TEXTS = [None, "", "Billing", "Tier 2", "new", "open", "pending", "hold", "solved", "closed", "Tom", "Lina",
         'Zoë \\ "quoted"\ttab\nline →']
SCALES = [None, *((v, "ces7") for v in range(1, 8)), *((v, "effort5") for v in range(1, 6))]

entry = st.builds(
    HistoryEntry, at=times, kind=st.sampled_from(list(EntryKind)), actor=st.sampled_from(list(Actor)),
    value=st.sampled_from(TEXTS), previous=st.sampled_from(TEXTS),
    channel=st.sampled_from([None, *Channel]), source_id=st.sampled_from([None, "", "1", "2", "3"]))
ticket = st.builds(
    Ticket, id=st.sampled_from(["5158", "77"]), status=st.sampled_from(list(Status)),
    channel=st.sampled_from(list(Channel)), created_at=st.none() | times,
    requester=st.none() | st.just(Person(email="c@example.com")), tags=st.just(["vip"]))
history = st.builds(
    TicketHistory, ticket=ticket, entries=st.lists(entry, max_size=30),
    counters=st.dictionaries(st.sampled_from(["group_stations", "assignee_stations", "reopens", "first_reply_minutes",
                                              "requester_wait_minutes"]),
                             st.integers(0, 5) | st.floats(0, 1e4, allow_nan=False)),
    missing=st.lists(st.sampled_from(["audits: 403 Forbidden", "history: timeout (retrying)"]), max_size=2))
contact = st.builds(
    Contact, connector=st.sampled_from(["zendesk-main", "freshdesk-eu"]), id=st.sampled_from(["5158", "77", "1", "2"]),
    created_at=times, channel=st.none() | st.sampled_from([c.value for c in Channel]))
signal_settings = st.builds(
    SignalSettings, repeat_window_days=st.sampled_from([0.5, 1, 7]),
    reply_targets=st.sampled_from([SignalSettings().reply_targets, {"chat": 60, "email": 3600}]),
    many_customer_messages=st.integers(1, 6))
effort_settings = st.sampled_from([EffortSettings(), EffortSettings(group_transfer=40, medium_at=10, high_at=30),
                                   EffortSettings(reopen=7.5, long_wait=0.25, high_at=100)])


def stored(h: TicketHistory, contacts: list[Contact] | None) -> tuple[str, str | None]:
    """As collect stores them (SQLAlchemy's JSON type: json.dumps of model_dump(mode="json"))."""
    return (json.dumps(h.model_dump(mode="json")),
            None if contacts is None else json.dumps([c.model_dump(mode="json") for c in contacts]))


def both(h, contacts, connector_id, solved_at, answer, sig_settings, effort):
    history_text, contacts_text = stored(h, contacts)
    answers = {} if answer is None else {1: (41, None if answer == "no answer" else answer)}
    fast = compute_rows([(1, connector_id, solved_at, history_text, contacts_text)], answers, NOW, sig_settings,
                        effort)
    row = SimpleNamespace(id=1, connector_id=connector_id, last_solved_at=solved_at,
                          history=json.loads(history_text),
                          contacts=None if contacts_text is None else json.loads(contacts_text))
    reference = reference_rows([row], answers, NOW, sig_settings, effort)
    return ([dict(zip(SIGNAL_COLUMNS, fast[0][0])), dict(zip(ASSESSMENT_COLUMNS, fast[1][0]))],
            [reference[0][0], reference[1][0]])


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(history, st.none() | st.lists(contact, max_size=5), st.sampled_from(["zendesk-main", "freshdesk-eu"]),
       st.none() | times, st.sampled_from(SCALES + ["no answer"]), signal_settings, effort_settings,
       st.randoms(use_true_random=False), st.integers(0, 4))
def test_the_fast_path_gives_what_the_models_give(h, contacts, connector_id, solved_at, answer, sig_settings, effort,
                                                   rnd, dupes):
    if h.entries and dupes:  # webhook and API telling the same change, in any order
        h.entries = h.entries + [rnd.choice(h.entries) for _ in range(dupes)]
        rnd.shuffle(h.entries)
    fast, reference = both(h, contacts, connector_id, solved_at, answer, sig_settings, effort)
    assert fast == reference


def test_the_realistic_zendesk_history_too(zendesk_history):  # noqa: F811
    h = zendesk_history
    contacts = [Contact(connector="zendesk-main", id="5140", created_at=datetime(2026, 11, 17, 18, 2, tzinfo=timezone.utc),
                        channel="chat")]
    for answer in (None, (2, "ces7"), (6, "ces7"), (3, "effort5")):
        fast, reference = both(h, contacts, "zendesk-main", T0 + timedelta(days=2), answer, SignalSettings(),
                               EffortSettings())
        assert fast == reference
    assert fast[1]["reason_codes"]


def test_what_it_does_not_take_as_is_goes_through_the_models():
    h = {"ticket": {"id": "1", "status": "solved", "channel": "chat"},
         "entries": [{"at": "2026-11-20T09:00:00Z", "kind": "message", "actor": "customer"}]}  # written by hand
    with pytest.raises(Unusual):
        signals_from_json(h, None, connector_id="generic", solved_at=None, settings=SignalSettings())
    [sig], _ = compute_rows([(1, "generic", None, json.dumps(h), None)], {}, NOW, SignalSettings(), EffortSettings())
    assert sig[SIGNAL_COLUMNS.index("customer_messages")] == 1
    bad = dict(h, entries=[{"at": "yesterday", "kind": "message", "actor": "customer"}])
    with pytest.raises(ValidationError):  # as the models say
        compute_rows([(1, "generic", None, json.dumps(bad), None)], {}, NOW, SignalSettings(), EffortSettings())


# --- the rebuild stores what the reference path stores, on both databases ---------------------------------
def generated(n: int, seed: int = 3) -> list[tuple[TicketHistory, list[Contact], datetime]]:
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        created = T0 + timedelta(minutes=rnd.randrange(600))
        entries = [HistoryEntry(at=created + timedelta(seconds=rnd.randrange(86400)), kind=rnd.choice(list(EntryKind)),
                                actor=rnd.choice(list(Actor)), value=rnd.choice(TEXTS), previous=rnd.choice(TEXTS),
                                channel=rnd.choice([None, *Channel]), source_id=rnd.choice([None, "1", "2", "x\\y"]))
                   for _ in range(rnd.randrange(0, 25))]
        h = TicketHistory(ticket=Ticket(id=str(i), status=Status.SOLVED, channel=rnd.choice(list(Channel)),
                                        created_at=created if rnd.random() < 0.9 else None),
                          entries=entries, counters={"reopens": 1.0} if rnd.random() < 0.3 else {},
                          missing=["audits: 403"] if rnd.random() < 0.1 else [])
        contacts = [Contact(connector="zendesk-main", id=str(rnd.randrange(n)), channel=rnd.choice([None, "chat"]),
                            created_at=created + timedelta(hours=rnd.randrange(-200, 200)))
                    for _ in range(rnd.randrange(3))]
        out.append((h, contacts, created + timedelta(days=1)))
    return out


def _store(rt, tickets) -> None:
    with rt.transaction() as s:
        for i, (_h, _contacts, solved) in enumerate(tickets, start=1):
            s.add(TicketRow(id=i, connector_id="zendesk-main", external_id=str(i), status="solved", solve_count=1,
                            reopen_count=0, created_at=solved, updated_at=solved, last_solved_at=solved))
        s.flush()
        for i, (h, contacts, _solved) in enumerate(tickets, start=1):
            s.add(TicketHistoryRecord(ticket_pk=i, fetched_at=NOW, history=h.model_dump(mode="json"),
                                      contacts=[c.model_dump(mode="json") for c in contacts] if i % 7 else None))


def _table(rt, model, columns) -> list[tuple]:
    with rt.transaction() as s:
        rows = s.execute(select(*(getattr(model, c) for c in columns if c not in ("computed_at", "assessed_at")))
                         .order_by(model.ticket_pk)).all()
    return [tuple(r) for r in rows]


# Worker processes are for PostgreSQL (SQLite has one writer).
WORKER_CASES = pytest.mark.parametrize("db_url, workers", [("sqlite", 1), ("postgresql", 1), ("postgresql", 2)],
                                       indirect=["db_url"])


@WORKER_CASES
def test_a_rebuild_stores_what_the_reference_stores(make_rt, db_url, workers):
    rt = make_rt()
    tickets = generated(120)
    _store(rt, tickets)
    total, done, _ = rebuild(rt, date(2026, 11, 1), batch=25, workers=workers)
    assert total == done == len(tickets)
    fast = (_table(rt, TicketSignalsRecord, SIGNAL_COLUMNS), _table(rt, AssessmentRecord, ASSESSMENT_COLUMNS))
    with rt.transaction() as s:
        rows = s.execute(select(TicketRow.id, TicketRow.connector_id, TicketRow.last_solved_at,
                                TicketHistoryRecord.history, TicketHistoryRecord.contacts)
                         .join(TicketHistoryRecord, TicketHistoryRecord.ticket_pk == TicketRow.id)).all()
        s.query(TicketSignalsRecord).delete()
        s.query(AssessmentRecord).delete()
    signals_rows, assessment_rows = reference_rows(rows, {}, NOW, rt.settings.signals, rt.settings.effort)
    with rt.transaction() as s:
        _upsert_many(s, TicketSignalsRecord, signals_rows)
        _upsert_many(s, AssessmentRecord, assessment_rows)
    assert fast == (_table(rt, TicketSignalsRecord, SIGNAL_COLUMNS), _table(rt, AssessmentRecord, ASSESSMENT_COLUMNS))


@WORKER_CASES
def test_an_interrupted_rebuild_resumes_after_the_last_range_written(make_rt, db_url, monkeypatch, workers):
    import ces.worker.signals.rebuild as rb
    from ces.worker.db.models import AppSecret

    rt = make_rt()
    _store(rt, generated(100))
    real = rb.compute_rows

    def failing(rows, *args):
        if any(r[0] == 63 for r in rows):  # the fourth range of 20
            raise RuntimeError("interrupted")
        return real(rows, *args)

    monkeypatch.setattr(rb, "compute_rows", failing)  # the worker processes are forked: they see it too
    with pytest.raises(RuntimeError):
        rebuild(rt, date(2026, 11, 1), batch=20, workers=workers)
    with rt.transaction() as s:
        assert s.get(AppSecret, "rebuild:2026-11-01").value == "60"  # ranges after it may be written: redone
        assert s.query(TicketSignalsRecord).filter(TicketSignalsRecord.ticket_pk <= 60).count() == 60
    monkeypatch.setattr(rb, "compute_rows", real)
    total, done, _ = rebuild(rt, date(2026, 11, 1), batch=20, workers=workers)
    assert (total, done) == (40, 40)
    with rt.transaction() as s:
        assert s.query(TicketSignalsRecord).count() == s.query(AssessmentRecord).count() == 100
        assert s.get(AppSecret, "rebuild:2026-11-01") is None
