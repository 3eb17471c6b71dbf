"""POST /webhooks/{connector_id} on the real app over a socket, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from ces.worker.db.models import EventState, WebhookEvent
from ces.worker.web.app import create_app
from tests.support import (
    DEEP,
    JUST_TOO_DEEP,
    LONG_ID,
    ServedApp,
    fixture_bytes,
    fixture_json,
    wait_until,
    zendesk_headers,
)

PATH = "/webhooks/zendesk-main"


@pytest.fixture
def app(rt, app_port):
    with ServedApp(create_app(rt), app_port) as served:
        yield served


def stored(rt) -> list[WebhookEvent]:
    with rt.transaction() as s:
        return list(s.scalars(select(WebhookEvent).order_by(WebhookEvent.id)))


def post_fixture(app, name: str, invocation: str = "inv-1", **kw):
    body = fixture_bytes("zendesk", name)
    return app.post(PATH, body, zendesk_headers(body, invocation=invocation, **kw))


def test_a_signed_solve_is_stored_and_enqueued(app, rt, queue):
    resp = post_fixture(app, "status_changed_solved.json")
    assert resp.status_code == 202
    assert resp.json() == {"status": "accepted", "events": 1}
    [event] = stored(rt)
    assert (event.ticket_id, event.status, event.state, event.delivery_id) == ("5158", "solved", "received", "inv-1")
    # The push to the broker follows the answer (best effort).
    wait_until(lambda: list(queue.items) == [("ces.process_events", [event.id])], 5, message="enqueue")


def test_what_is_stored_is_what_arrived(rt):
    """Every column as event_row gives it, the payload's awkward values too (a big integer, text
    in any script, quotes and backslashes, nulls, nesting), timestamps to the microsecond."""
    from datetime import datetime, timezone

    from ces.connectors.models import EventKind, HistoryEntry, TicketEvent
    from ces.worker.intake import event_row, store_batch

    payload = {"id": 2**70, "text": "Ñandú \"quoted\" \\ back\\slash\ttab 中文 עברית", "nothing": None,
               "nested": {"list": [1, 2.5, True, {"deep": []}]}, "nul": "a\x00b", "lone": "\ud800"}
    at = datetime(2026, 11, 23, 10, 15, 45, 123456, tzinfo=timezone.utc)
    event = TicketEvent(delivery_id="inv-exact", kind=EventKind.STATUS, ticket_id="5158", status="solved", previous_status="open", occurred_at=at,
                        actor_id="42", summary="solved", payload=payload,
                        entries=[HistoryEntry(at=at, kind="status", value="solved", previous="open")])
    row = event_row("zendesk-main", event, at, 30)
    [[event_id]] = store_batch(rt, [[row]])
    # NUL and a lone surrogate outside the payload: columns of text cannot hold them, so they go.
    odd = TicketEvent(delivery_id="inv-odd\x00", kind=EventKind.IGNORED, ticket_id="5\x00158", occurred_at=at,
                      summary="x\ud800y", payload={"ok": "a\x00b"})
    [[odd_id]] = store_batch(rt, [[event_row("zendesk-main", odd, at, 30)]])
    e, o = stored(rt)
    assert (o.id, o.delivery_id, o.ticket_id, o.summary, o.payload) == (odd_id, "inv-odd", "5158", "x?y", {"ok": "a\x00b"})
    assert e.id == event_id
    for column, value in row.items():
        if column == "window":
            continue  # not a column
        got = getattr(e, column)
        if isinstance(got, datetime):
            got = got.replace(tzinfo=timezone.utc) if got.tzinfo is None else got.astimezone(timezone.utc)
        assert got == value, column


@pytest.mark.parametrize("at", [datetime(1900, 1, 1, tzinfo=timezone.utc), datetime(9999, 1, 1, tzinfo=timezone.utc),
                                datetime(2026, 11, 23, 10, 15)], ids=["1900", "9999", "naive"])
def test_a_time_a_connector_made_out_of_range_is_refused_before_the_batch(at):
    from ces.connectors.errors import InvalidField
    from ces.connectors.models import EventKind, HistoryEntry, TicketEvent
    from ces.worker.intake import event_row

    now = datetime.now(timezone.utc)
    for event in (TicketEvent(delivery_id="d", kind=EventKind.STATUS, ticket_id="1", occurred_at=at),
                  TicketEvent(delivery_id="d", kind=EventKind.UPDATED, ticket_id="1", occurred_at=now,
                              entries=[HistoryEntry(at=at, kind="group", value="Tier 2")])):
        with pytest.raises(InvalidField, match="occurred_at|entries.at"):
            event_row("zendesk-main", event, now, 30)


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_a_kept_connection_the_server_dropped_is_replaced_without_a_503(app, rt):
    assert post_fixture(app, "trigger_solved.json", "inv-before").status_code == 202
    with rt.engine.connect() as conn:  # what a restart of PostgreSQL does to every open connection
        conn.exec_driver_sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                             "WHERE datname = current_database() AND pid <> pg_backend_pid()")
    resp = post_fixture(app, "trigger_unsolved.json", "inv-after")
    assert resp.status_code == 202, resp.text
    assert [e.delivery_id for e in stored(rt)] == ["inv-before", "inv-after"]


def test_the_same_invocation_twice_is_a_duplicate(app, rt):
    assert post_fixture(app, "trigger_solved.json", "inv-dup").status_code == 202
    resp = post_fixture(app, "trigger_solved.json", "inv-dup")
    assert resp.status_code == 200 and resp.json() == {"status": "duplicate", "events": 0}
    assert len(stored(rt)) == 1


def test_concurrent_duplicates_store_one_event(app, rt):
    body = fixture_bytes("zendesk", "trigger_solved.json")
    headers = zendesk_headers(body, invocation="inv-storm")
    with ThreadPoolExecutor(16) as pool:
        codes = list(pool.map(lambda _: app.post(PATH, body, headers).status_code, range(32)))
    assert codes.count(202) == 1 and codes.count(200) == 31
    assert len(stored(rt)) == 1


def trigger(ticket_id: object) -> bytes:
    return json.dumps({"ces_event": "ticket.solved", "ticket_id": str(ticket_id), "status": "Solved"}).encode()


def test_concurrent_webhooks_are_all_stored(app, rt):
    def send(i):
        body = trigger(5000 + i)
        return app.post(PATH, body, zendesk_headers(body, invocation=f"inv-{i}")).status_code

    with ThreadPoolExecutor(16) as pool:
        codes = list(pool.map(send, range(60)))
    assert codes == [202] * 60
    assert len({e.delivery_id for e in stored(rt)}) == 60


def test_irrelevant_events_are_stored_as_ignored_and_not_enqueued(app, rt, queue):
    resp = post_fixture(app, "comment_added.json", "inv-c")
    assert resp.status_code == 202 and resp.json() == {"status": "ignored", "events": 1}
    [event] = stored(rt)
    assert event.state == EventState.IGNORED
    assert queue.items == type(queue.items)()


@pytest.mark.parametrize("name,headers,status,code", [
    ("bad_signature", {"secret": "wrong"}, 401, "bad_signature"),
    ("stale", {"timestamp": "2026-01-01T00:00:00Z"}, 401, "stale_timestamp"),
])
def test_signature_problems_are_401_and_store_nothing(app, rt, queue, name, headers, status, code):
    resp = post_fixture(app, "status_changed_solved.json", **headers)
    assert resp.status_code == status
    assert resp.json()["error"] == code and resp.json()["detail"]
    assert stored(rt) == [] and not queue.items


def test_missing_signature_is_401(app, rt):
    resp = app.post(PATH, fixture_bytes("zendesk", "trigger_solved.json"), {"Content-Type": "application/json"})
    assert resp.status_code == 401 and resp.json()["error"] == "bad_signature"
    assert stored(rt) == []


def test_unknown_connector_is_404(app, rt):
    body = fixture_bytes("zendesk", "trigger_solved.json")
    resp = app.post("/webhooks/nope", body, zendesk_headers(body))
    assert resp.status_code == 404 and resp.json()["error"] == "unknown_connector"
    assert stored(rt) == []


def test_oversized_body_is_413(app, rt):
    body = b'{"ticket_id": "1", "pad": "' + b"x" * (1024 * 1024) + b'"}'
    resp = app.post(PATH, body, zendesk_headers(body))
    assert resp.status_code == 413 and resp.json()["error"] == "payload_too_large"
    assert stored(rt) == []


@pytest.mark.parametrize("fixture", ["form_encoded_body.txt", "trigger_without_ticket_id.json"])
def test_signed_but_unparseable_is_422(app, rt, fixture):
    resp = post_fixture(app, fixture)
    assert resp.status_code == 422 and resp.json()["error"] == "unparseable"
    assert stored(rt) == []


def test_database_down_is_503_with_retry_after(config, make_rt, app_port, sink):
    config.write(db_url="postgresql://postgres@127.0.0.1:1/none", smtp_port=sink.port)
    rt = make_rt()
    with ServedApp(create_app(rt), app_port) as app:
        resp = post_fixture(app, "trigger_solved.json")
    assert resp.status_code == 503
    assert resp.json()["error"] == "database_unavailable"
    assert resp.headers["Retry-After"] == "30"


def test_broker_down_still_answers_202_and_the_scheduler_enqueues_later(app, rt, queue):
    from ces.worker.scheduler import tick

    queue.down = True
    resp = post_fixture(app, "trigger_solved.json", "inv-rd")
    assert resp.status_code == 202
    [event] = stored(rt)
    assert event.state == EventState.RECEIVED
    queue.down = False
    wait_until(lambda: tick(rt)["events"] == 1, 5, message="scheduler enqueue after requeue_after")
    assert list(queue.items) == [("ces.process_event", event.id)]


def test_json_error_shape_for_unknown_paths(app):
    resp = app.get("/nope")
    assert resp.status_code == 404 and set(resp.json()) == {"error", "detail"}


def test_healthz_and_readyz(app):
    assert app.get("/healthz").json() == {"status": "ok"}
    resp = app.get("/readyz")
    assert resp.status_code == 200 and resp.json() == {"database": "ok", "broker": "ok"}


def test_readyz_says_which_part_is_down(config, make_rt, app_port, sink):
    """Ready means the database answers: intake takes webhooks (202) while Redis is down."""
    config.write(redis_url="redis://127.0.0.1:1/0", smtp_port=sink.port)
    rt = make_rt()
    with ServedApp(create_app(rt), app_port) as app:
        resp = app.get("/readyz")
    assert resp.status_code == 200
    body = resp.json()
    assert body["database"] == "ok" and body["broker"].startswith("unavailable")


def test_metrics_count_webhooks(app):
    post_fixture(app, "trigger_solved.json", "inv-m")
    text = app.get("/metrics").text
    assert 'ces_webhooks_total{connector="zendesk-main",outcome="accepted"}' in text


def test_a_replay_under_a_new_invocation_id_is_a_duplicate(app, rt):
    """The invocation id is not signed: the same signed timestamp and body is the same delivery."""
    body = fixture_bytes("zendesk", "trigger_solved.json")
    captured = zendesk_headers(body, invocation="inv-real")
    assert app.post(PATH, body, captured).status_code == 202
    replay = app.post(PATH, body, {**captured, "X-Zendesk-Webhook-Invocation-Id": "inv-forged"})
    assert replay.status_code == 200 and replay.json() == {"status": "duplicate", "events": 0}
    assert [e.delivery_id for e in stored(rt)] == ["inv-real"]


def test_a_retry_signed_again_keeps_its_invocation_id_and_is_a_duplicate(app, rt):
    body = fixture_bytes("zendesk", "trigger_solved.json")
    assert app.post(PATH, body, zendesk_headers(body, invocation="inv-r", timestamp=stamp(-60))).status_code == 202
    retry = app.post(PATH, body, zendesk_headers(body, invocation="inv-r", timestamp=stamp(0)))
    assert retry.status_code == 200 and len(stored(rt)) == 1


def stamp(seconds_from_now: int) -> str:
    return (datetime.now(timezone.utc) + timedelta(seconds=seconds_from_now)).strftime("%Y-%m-%dT%H:%M:%SZ")


def event_body(ticket_id: str = "5158", actor: str = "7002", time: object = None) -> bytes:
    data = fixture_json("zendesk", "status_changed_solved.json")
    data["detail"].update(id=ticket_id, actor_id=actor)
    data["subject"] = "zen:ticket:1"
    if time is not None:
        data["time"] = time
    return json.dumps(data).encode()


BAD = {  # what once failed its whole batch (503 to every neighbour), or the request with a 500
    "65-digit ticket id": (event_body(ticket_id=LONG_ID), 422, "invalid_field"),
    "65-character actor id": (event_body(actor="a" * 65), 422, "invalid_field"),
    "deep nesting": (event_body()[:-1] + b', "deep": ' + DEEP.encode() + b"}", 422, "unparseable"),
    "nesting just past the bound": (event_body()[:-1] + b', "deep": ' + JUST_TOO_DEEP.encode() + b"}", 422,
                                    "unparseable"),
    "a time beyond datetime's range": (event_body(time=1e300), 202, None),
    "a time of year 9999 west of UTC": (event_body(time="9999-12-31T23:59:59-05:00"), 202, None),
}


def test_bad_webhooks_fail_alone_and_their_neighbours_are_stored(app, rt):
    """Good webhooks and bad ones together, so that they share batches: every good one 202, each
    bad one its own 4xx (or 202 for a time read as none), never a 5xx; nothing bad is stored."""
    requests = [(f"good-{i}", event_body(ticket_id=str(10000 + i)), 202, None) for i in range(240)]
    for n, (name, (body, status, code)) in enumerate(BAD.items()):
        for copy in range(5):  # spread among the good ones, each a body of its own
            own = body.replace(b"zen:ticket:1", f"zen:ticket:{copy}".encode())
            requests.insert(7 * (n * 5 + copy) + 3, (f"{name} {copy}", own, status, code))

    def send(item):
        name, body, _, _ = item
        return app.post(PATH, body, zendesk_headers(body, invocation=name))

    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(send, requests))
    for (name, _, status, code), resp in zip(requests, answers):
        assert resp.status_code == status, (name, resp.status_code, resp.text)
        if code:
            assert resp.json()["error"] == code and resp.json()["detail"], name
    kept = stored(rt)
    assert len(kept) == 240 + 10 and all(len(e.ticket_id) <= 64 and len(e.actor_id or "") <= 64 for e in kept)
    # A time out of range is no time: the event's next source (detail.updated_at) stands instead.
    assert {e.occurred_at for e in kept if e.delivery_id.startswith("a time")} == {
        datetime.fromisoformat(fixture_json("zendesk", "status_changed_solved.json")["detail"]["updated_at"])}
