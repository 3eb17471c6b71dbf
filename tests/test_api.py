"""The read API (/api/v1/) and its tokens, as a script would use them, and the audit log that
records every sign-in, account change, token change and API call, without customer data."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta

import pytest
import requests
from sqlalchemy import select

from ces.worker.api import tokens
from ces.worker.console import users
from ces.worker.db.models import ApiToken, AuditEntry
from ces.worker.queries.reports import ces_report
from ces.worker.queries.scope import Scope
from ces.worker.web.app import create_app
from tests.answers_data import ANSWERS, RANGE, SENT, plant
from tests.console import Client, add_user
from tests.support import ServedApp, cli

pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # HTTP: one database is enough
QUERY = {"since": RANGE["since"].isoformat(), "until": RANGE["until"].isoformat()}


@pytest.fixture
def planted(rt):
    for external, values in ANSWERS.items():
        plant(rt, external, *values)


@pytest.fixture
def server(rt, app_port):
    with ServedApp(create_app(rt), app_port) as served:
        yield served


def token_for(rt, email: str, role: str, *scopes: str, teams=(), days: float = 30) -> str:
    if users_exists(rt, email) is None:
        add_user(rt, email, role, teams=teams)
    return tokens.create(rt, email, "test", list(scopes or tokens.SCOPES), days)[1]


def users_exists(rt, email: str):
    with rt.transaction() as s:
        return users.find(s, email)


def get(server, path: str, token: str | None, **params) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.get(f"{server.url}{path}", params={**QUERY, **params}, headers=headers, timeout=10)


def every_page(server, path: str, token: str) -> list[dict]:
    """The items of every page, three at a time, each page asked with the last one's next_cursor."""
    items, cursor = [], None
    while True:
        page = get(server, path, token, limit=3, **({"cursor": cursor} if cursor else {})).json()
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items


def test_an_agents_token_reads_their_answers_page_by_page(rt, planted, server):
    token = token_for(rt, "amy@acme.test", "agent", "read:answers")
    seen = [item["ticket"] for item in every_page(server, "/api/v1/answers", token)]
    assert seen == ["106", "105", "103", "101"]  # Amy's, newest first, each once
    first = get(server, "/api/v1/answers", token, q="THREE").json()["items"][0]
    assert first["comment"] == ANSWERS["101"][6] and first["low"] is True and first["score"] == 2


def test_surveys_page_by_page_without_the_customers_address(rt, planted, server):
    token = token_for(rt, "amy@acme.test", "agent", "read:surveys")
    items = every_page(server, "/api/v1/surveys", token)
    assert all("to" not in item and item["state"] == "sent" for item in items)
    seen = [item["ticket"] for item in items]
    assert sorted(seen) == ["101", "103", "105", "106"]  # Amy's surveys, each once
    assert get(server, "/api/v1/surveys", token, state="failed").json()["items"] == []
    assert get(server, "/api/v1/surveys", token, cursor="x").status_code == 400
    assert get(server, "/api/v1/answers", token).status_code == 403  # read:surveys is not read:answers


def test_a_tickets_signals_and_reasons_with_their_weights_in_its_scope_only(rt, planted, server):
    from ces.worker.db.models import AssessmentRecord, Ticket, TicketSignalsRecord

    with rt.transaction() as s:
        pk = s.scalar(select(Ticket.id).where(Ticket.external_id == "101"))
        s.add(TicketSignalsRecord(ticket_pk=pk, computed_at=SENT, group_transfers=2,
                                  data={"group_transfers": 2, "reopens": 0}))
        s.add(AssessmentRecord(ticket_pk=pk, level="high", effort_index=82, basis="signals", assessed_at=SENT,
                               reasons=[{"code": "group_transfers", "text": "transferred twice: Billing → Tier 2",
                                         "weight": 1.25}], reason_codes="group_transfers"))
    amy = token_for(rt, "amy@acme.test", "agent", "read:flags")
    body = get(server, "/api/v1/tickets/zendesk-main/101", amy).json()
    assert body["signals"]["group_transfers"] == 2 and body["assessment"]["index"] == 82
    assert body["assessment"]["reasons"] == [{"code": "group_transfers", "text": "transferred twice: Billing → Tier 2",
                                              "weight": 1.25}]
    assert get(server, "/api/v1/tickets/zendesk-main/102", amy).status_code == 404  # Bob's ticket
    assert get(server, "/api/v1/tickets/zendesk-main/999", amy).json()["error"]
    no_scope = token_for(rt, "amy@acme.test", "agent", "read:answers")
    assert get(server, "/api/v1/tickets/zendesk-main/101", no_scope).status_code == 403


def test_a_leads_token_sees_their_teams_and_gets_csv(rt, planted, server):
    token = token_for(rt, "lee@acme.test", "lead", "read:answers", teams=("Returns",))
    resp = get(server, "/api/v1/answers", token, format="csv")
    assert resp.headers["content-type"].startswith("text/csv")
    assert [r["ticket"] for r in csv.DictReader(io.StringIO(resp.text))] == ["107", "104", "103"]


def test_the_report_is_ces_reports_numbers(rt, planted, server):
    token = token_for(rt, "ada@acme.test", "admin", "read:reports")
    body = get(server, "/api/v1/report", token, by="group").json()
    expected = ces_report(Scope.everything(), rt, RANGE["since"], RANGE["until"], scale="ces7", by="group")["rows"]
    assert [{**{k: v for k, v in r.items() if k != "key"}, "group": r["key"]} for r in body["rows"]] == expected
    assert body["by"] == "group" and body["scale"] == "ces7"


@pytest.mark.parametrize(("role", "teams", "scope"), [
    ("agent", (), Scope("agent", agent_email="amy@acme.test")), ("lead", ("Returns",), Scope("lead", ("Returns",)))])
def test_a_partial_token_gets_the_report_of_what_its_person_sees(rt, planted, server, role, teams, scope):
    token = token_for(rt, "amy@acme.test" if role == "agent" else "lee@acme.test", role, teams=teams)
    body = get(server, "/api/v1/report", token).json()
    mine = ces_report(scope, rt, RANGE["since"], RANGE["until"], scale="ces7")["rows"]
    everything = ces_report(Scope.everything(), rt, RANGE["since"], RANGE["until"], scale="ces7")["rows"]
    assert [{k: v for k, v in r.items() if k != "key"} for r in body["rows"]] == mine
    assert mine[0]["responses"] < everything[0]["responses"]
    assert get(server, "/api/v1/flags", token).json() == []  # nothing assessed in these plantings


def test_what_a_token_cannot_do_is_a_clear_json_error(rt, planted, server):
    answers_only = token_for(rt, "ada@acme.test", "admin", "read:answers")
    cases = {
        "no token": (get(server, "/api/v1/answers", None), 401, "unauthorized"),
        "made up": (get(server, "/api/v1/answers", "ces_made-up"), 401, "unauthorized"),
        "not our kind": (get(server, "/api/v1/answers", "Basic abc"), 401, "unauthorized"),
        "another scope": (get(server, "/api/v1/flags", answers_only), 403, "forbidden"),
        "bad date": (get(server, "/api/v1/answers", answers_only, since="yesterday"), 400, "bad_request"),
        "year 1": (get(server, "/api/v1/answers", answers_only, since="0001-01-01"), 400, "bad_request"),
        "year 3001": (get(server, "/api/v1/answers", answers_only, until="3000-01-02"), 400, "bad_request"),
        "bad cursor": (get(server, "/api/v1/answers", answers_only, cursor="!!"), 400, "bad_request"),
        "bad limit": (get(server, "/api/v1/answers", answers_only, limit=0), 422, "invalid_request"),
    }
    for name, (resp, status, code) in cases.items():
        assert (resp.status_code, resp.json()["error"], set(resp.json())) == (status, code, {"error", "detail"}), name
    assert cases["no token"][0].headers["www-authenticate"] == "Bearer"
    everything = get(server, "/api/v1/answers", answers_only, since="1970-01-01", until="3000-01-01")
    assert everything.status_code == 200 and everything.json()["items"]


def test_revoked_expired_and_disabled_tokens_stop_working(rt, planted, server, capsys):
    revoked = token_for(rt, "ada@acme.test", "admin")
    expiring = token_for(rt, "ada@acme.test", "admin")
    theirs = token_for(rt, "amy@acme.test", "agent")
    with rt.transaction() as s:
        first = s.scalar(select(ApiToken.id).order_by(ApiToken.id))
        s.execute(ApiToken.__table__.update().where(ApiToken.id == first + 1)
                  .values(expires_at=rt.now() - timedelta(seconds=1)))
    assert all(get(server, "/api/v1/answers", t).status_code == 200 for t in (revoked, theirs))
    assert cli(capsys, "tokens", "revoke", str(first))[0] == 0
    users.disable(rt, "amy@acme.test")
    assert [get(server, "/api/v1/answers", t).status_code for t in (revoked, expiring, theirs)] == [401, 401, 401]
    code, _, err = cli(capsys, "tokens", "revoke", str(first))
    assert code == 1 and "revoked already" in err


def test_a_tokens_rate_is_bounded(config, make_rt, app_port):
    config.write(extra="\n[api]\nrate_per_minute = 3\n")
    rt = make_rt()
    with ServedApp(create_app(rt), app_port) as server:
        token = token_for(rt, "ada@acme.test", "admin", "read:answers")
        codes = [get(server, "/api/v1/answers", token).status_code for _ in range(4)]
        last = get(server, "/api/v1/answers", token)
    assert codes[:3] == [200, 200, 200] and codes[3] == 429
    assert last.json()["error"] == "rate_limited" and 0 < int(last.headers["retry-after"]) <= 60


def test_the_tokens_cli_shows_a_secret_once_and_never_again(rt, capsys):
    add_user(rt, "ada@acme.test", "admin")
    code, out, _ = cli(capsys, "tokens", "create", "ada@acme.test", "--scope", "read:answers", "--name", "BI")
    secret = out.strip().splitlines()[-1]
    assert code == 0 and secret.startswith("ces_") and "read:answers" in out
    code, out, _ = cli(capsys, "tokens", "list", "--format", "json")
    [listed] = json.loads(out)
    assert listed["name"] == "BI" and listed["state"] == "active" and secret not in out
    assert (listed["prefix"], listed["created_by"]) == (secret[:10], "cli")  # tells tokens apart, opens nothing
    with rt.transaction() as s:
        assert s.scalar(select(ApiToken.token_hash)) == users.token_hash(secret)  # only the hash is kept
    code, _, err = cli(capsys, "tokens", "create", "ada@acme.test", "--scope", "write:everything")
    assert code == 1 and err.startswith("ces: scopes: use read:answers")
    code, _, err = cli(capsys, "tokens", "create", "nobody@acme.test", "--scope", "read:answers")
    assert code == 1 and "no such account" in err


def test_the_audit_log_records_who_did_what_and_no_customer_data(rt, planted, server, capsys):
    add_user(rt, "lee@acme.test", "lead")  # through users.add, as the CLI does
    client = Client(server.url)
    assert client.sign_in("lee@acme.test", "not the password").status_code == 401
    assert client.sign_in("someone-else@acme.test", "nope").status_code == 401
    assert client.sign_in("lee@acme.test").status_code == 303
    token = token_for(rt, "lee@acme.test", "lead", "read:answers")
    get(server, "/api/v1/answers", token, q="THREE")
    code, out, _ = cli(capsys, "audit", "--format", "json")
    entries = json.loads(out)
    actions = [(e["actor"].split(":")[0], e["action"]) for e in reversed(entries)]
    assert actions == [("cli", "user.add"), ("user", "sign_in_failed"), ("unknown", "sign_in_failed"),
                       ("user", "sign_in"), ("cli", "token.create"), ("token", "api.answers")]
    assert all(e["address"] == "127.0.0.1" for e in entries if e["actor"] != "cli")
    code, out, _ = cli(capsys, "audit", "--actor", "Lee@Acme.test", "--action", "sign_in", "--format", "json")
    assert [(e["action"], e["detail"]) for e in json.loads(out)] == [("sign_in", {"method": "password"})]
    with rt.transaction() as s:
        stored = json.dumps([[e.actor, e.action, e.target, e.detail] for e in s.scalars(select(AuditEntry))])
    for secret in ("lee@acme.test", "someone-else", "THREE", ANSWERS["101"][6]):
        assert secret not in stored and secret not in out
