"""`ces users add|list|disable|enable|reset`: the console's accounts from the command line, with the
CLI's promises (one error line, exit 1 for problems and 2 for usage)."""

from __future__ import annotations

import json

import pytest

from ces.worker.console import users
from tests.console import add_user
from tests.support import cli

pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


def link_of(out: str) -> str:
    return out.strip().splitlines()[-1]


def test_add_prints_a_one_time_link_for_the_new_account(rt, capsys):
    code, out, err = cli(capsys, "users", "add", "Lee@Acme.test", "--role", "lead", "--team", "Billing",
                         "--team", "Returns", "--name", "Lee Lead")
    assert code == 0 and err == ""
    assert out.startswith("lee@acme.test added as lead. Send them this link (one use, 24 h)")
    link = link_of(out)
    assert link.startswith(f"{rt.settings.public_url}/login/link/") and len(link.rsplit("/", 1)[1]) >= 43
    person = users.open_link(rt, link.rsplit("/", 1)[1])
    assert (person.email, person.name, person.role, person.teams) == ("lee@acme.test", "Lee Lead", "lead",
                                                                      ("Billing", "Returns"))


@pytest.mark.parametrize(("args", "code", "error"), [
    (["users", "add", "lee@acme.test", "--role", "boss"], 2, "use admin, lead or agent"),
    (["users", "add", "not-an-address", "--role", "agent"], 1, "ces: 'not-an-address' is not an e-mail address"),
    (["users", "disable", "nobody@acme.test"], 1, "ces: no user 'nobody@acme.test' (see `ces users list`)"),
    (["users", "reset", "nobody@acme.test"], 1, "ces: no user 'nobody@acme.test' (see `ces users list`)"),
    (["users", "enable", "nobody@acme.test"], 1, "ces: no user 'nobody@acme.test' (see `ces users list`)"),
])
def test_mistakes_are_one_line(rt, capsys, args, code, error):
    got, out, err = cli(capsys, *args)
    assert got == code and error in err and len(err.strip().splitlines()) == 1 and out == ""


def test_an_address_is_one_account(rt, capsys):
    cli(capsys, "users", "add", "lee@acme.test", "--role", "lead")
    code, _, err = cli(capsys, "users", "add", "LEE@acme.test ", "--role", "admin")
    assert code == 1 and err.strip() == ("ces: lee@acme.test has an account already "
                                         "(`ces users reset lee@acme.test` for a new link)")


def test_list_shows_how_each_person_signs_in(rt, capsys):
    add_user(rt, "lee@acme.test", "lead", teams=("Billing",), name="Lee Lead")
    users.add(rt, "amy@acme.test", "agent", [])
    users.disable(rt, "amy@acme.test")
    code, out, _ = cli(capsys, "users", "list", "--format", "json")
    rows = {r["email"]: r for r in json.loads(out)}
    assert code == 0 and set(rows) == {"lee@acme.test", "amy@acme.test"}
    assert (rows["lee@acme.test"]["role"], rows["lee@acme.test"]["teams"], rows["lee@acme.test"]["sign_in"],
            rows["lee@acme.test"]["state"]) == ("lead", ["Billing"], "password", "active")
    assert (rows["amy@acme.test"]["sign_in"], rows["amy@acme.test"]["state"]) == ("link not used yet", "disabled")
    assert "password_hash" not in out and "totp_secret" not in out
    _, table, _ = cli(capsys, "users", "list")
    assert table.splitlines()[0].split() == ["email", "name", "role", "teams", "sign_in", "totp", "state", "created",
                                             "last_seen"]
    _, csv, _ = cli(capsys, "users", "list", "--format", "csv")
    assert csv.splitlines()[1].startswith("amy@acme.test,,agent,,link not used yet,False,disabled,")


def test_a_disabled_account_is_enabled_again_with_a_new_link(rt, capsys):
    users.add(rt, "amy@acme.test", "agent", [])
    code, _, err = cli(capsys, "users", "enable", "amy@acme.test")
    assert code == 1 and err == "ces: amy@acme.test is not disabled\n"
    users.disable(rt, "amy@acme.test")
    code, out, _ = cli(capsys, "users", "enable", "AMY@acme.test")
    assert code == 0 and out.startswith("amy@acme.test enabled; a new link to sign in:\n")
    assert users.open_link(rt, link_of(out).rsplit("/", 1)[1]).email == "amy@acme.test"
    assert [p["state"] for p in users.listing(rt)] == ["active"]


def test_reset_gives_a_new_link_and_the_older_one_dies(rt, capsys):
    first = add_user(rt, "lee@acme.test", password=None)
    code, out, _ = cli(capsys, "users", "reset", "lee@acme.test")
    assert code == 0 and out.startswith("New link for lee@acme.test:")
    assert users.open_link(rt, first.rsplit("/", 1)[1]) is None
    assert users.open_link(rt, link_of(out).rsplit("/", 1)[1]).email == "lee@acme.test"


def test_reset_with_totp_removes_the_second_factor_of_a_lost_phone(rt, capsys):
    from sqlalchemy import select

    from ces.worker.db.models import User

    add_user(rt, "lee@acme.test")
    with rt.transaction() as s:
        s.scalar(select(User)).totp_secret = "JBSWY3DPEHPK3PXP"
    code, out, _ = cli(capsys, "users", "reset", "lee@acme.test", "--totp")
    assert code == 0 and "(second factor removed)" in out
    with rt.transaction() as s:
        assert s.scalar(select(User)).totp_secret is None


def test_a_disabled_account_gets_no_new_link(rt, capsys):
    add_user(rt, "lee@acme.test")
    assert cli(capsys, "users", "disable", "lee@acme.test")[0] == 0
    code, _, err = cli(capsys, "users", "reset", "lee@acme.test")
    assert code == 1 and err.strip() == "ces: lee@acme.test is disabled"
