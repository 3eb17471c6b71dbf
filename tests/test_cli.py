"""The admin's commands: configuration check, migrations, setup text, listings, one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from ces.worker.cli import main


def run(*args: str) -> tuple[int, str, str]:
    proc = subprocess.run([sys.executable, "-m", "ces.worker.cli", *args], capture_output=True, text=True,
                          timeout=60)
    return proc.returncode, proc.stdout, proc.stderr


def call(capsys, *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as done:
        main(list(args))
    out = capsys.readouterr()
    return done.value.code, out.out, out.err


def test_config_check_passes_on_a_valid_file(config, capsys):
    code, out, _ = call(capsys, "config", "check")
    assert code == 0 and "configuration is valid (1 connector(s))" in out


def test_config_check_names_file_key_and_fix(config, capsys):
    config.write(extra='bogus_key = 1\nbase_url_typo = "x"\n', smtp_port=25)
    text = config.path.read_text().replace('[survey]', '[survey]\ncolour = "red"')
    text = text.replace('public_url = "http://127.0.0.1', 'public_url = "ftp://127.0.0.1')
    config.path.write_text(text)
    code, _, err = call(capsys, "config", "check")
    lines = err.strip().splitlines()
    assert code == 1
    path = str(config.path)
    assert f"{path}: survey.colour: unknown key (fix: remove it" in err
    assert f"{path}: public_url: 'ftp://127.0.0.1" in err and "not an http(s) URL" in err
    assert f"{path}: connectors[0].bogus_key: unknown key" in err
    assert all(line.startswith(path) for line in lines)


@pytest.mark.parametrize("url", ["notaurl", "mysql://ces:s3cret-pw@db/ces", "postgresql://ces:s3cret/ces"])
def test_a_database_url_this_version_cannot_use_is_a_config_problem_without_its_password(config, capsys,
                                                                                        monkeypatch, url):
    monkeypatch.setenv("CES_DATABASE_URL", url)
    for args in (("config", "check", "--offline"), ("surveys",)):
        code, _, err = call(capsys, *args)
        assert code == 1 and "database_url: not a database URL this version can use" in err, args
        assert "s3cret" not in err and "Traceback" not in err and len(err.strip().splitlines()) <= 2


def test_a_problem_set_by_the_environment_is_named_after_its_variable_not_the_file(config, capsys, monkeypatch):
    monkeypatch.setenv("CES_SMTP__PORT", "abc")  # overrides the file's good value
    monkeypatch.setenv("CES_SMTP__COLOUR", "red")
    code, _, err = call(capsys, "config", "check", "--offline")
    assert code == 1 and "environment (CES_SMTP__PORT): smtp.port: must be a whole number, not 'abc'" in err
    assert "environment (CES_SMTP__COLOUR): smtp.colour: unknown key" in err and str(config.path) not in err


def test_config_check_reports_a_missing_secret_variable(config, capsys, monkeypatch):
    monkeypatch.delenv("TEST_ZENDESK_SECRET")
    code, _, err = call(capsys, "config", "check")
    assert code == 1
    assert (f"{config.path}: connectors[0].webhook_secret_env: environment variable TEST_ZENDESK_SECRET is not set"
            in err) and "fix: export TEST_ZENDESK_SECRET" in err


def test_config_check_on_broken_toml(config, capsys):
    config.path.write_text("public_url = [unclosed\n")
    code, _, err = call(capsys, "config", "check")
    assert code == 1 and "not valid TOML" in err and len(err.strip().splitlines()) == 1


def test_environment_overrides_the_file(config, monkeypatch):
    from ces.config import load_settings

    monkeypatch.setenv("CES_SMTP__PORT", "2525")
    monkeypatch.setenv("CES_PUBLIC_URL", "https://surveys.acme.test/")
    settings = load_settings()
    assert settings.smtp.port == 2525 and settings.public_url == "https://surveys.acme.test"
    assert settings.smtp.host == "127.0.0.1"  # the rest of [smtp] still comes from the file


def test_up_starts_one_worker_process_per_core_unless_told(config, monkeypatch):
    import os

    from ces.config import load_settings
    from ces.worker.cli.running import up_commands

    cores = len(os.sched_getaffinity(0))
    commands = up_commands(load_settings(), "127.0.0.1", 8000)
    assert commands.count(["worker"]) == cores and commands.count(["scheduler"]) == 1
    assert commands[0] == ["serve", "--host", "127.0.0.1", "--port", "8000"]
    monkeypatch.setenv("CES_WORKER__PROCESSES", "3")
    assert up_commands(load_settings(), "0.0.0.0", 80).count(["worker"]) == 3


def test_setup_prints_the_webhook_url_and_steps(config, capsys):
    code, out, _ = call(capsys, "connectors", "setup", "zendesk-main")
    assert code == 0
    assert "/webhooks/zendesk-main" in out and "ticket.status_changed" in out and "Satisfaction" in out


def test_unknown_connector_is_one_line_exit_1(config, capsys):
    code, _, err = call(capsys, "connectors", "setup", "nope")
    assert code == 1 and err.strip() == "ces: no connector 'nope' (known: zendesk-main)"


def test_usage_errors_exit_2(config):
    code, _, err = run("surveys", "--format", "xml")
    assert code == 2 and "Traceback" not in err


@pytest.mark.parametrize("args,line", [
    (["surveys", "--format", "xml"],
     "ces: error: Invalid value for '--format': 'xml' is not one of 'table', 'json', 'csv'. "
     "(see `ces surveys --help`)"),
    (["bogus"], "ces: error: No such command 'bogus'. (see `ces --help`)"),
    (["report", "--since", "yesterday"],
     "ces: error: Invalid value for --since: 'yesterday' is not a date like 2026-01-31 (see `ces report --help`)"),
    (["events", "replay"], "ces: error: Missing argument 'event_id'. (see `ces events replay --help`)"),
    (["surveys", "--limit", "-1"],
     "ces: error: Invalid value for '--limit': Input should be greater than or equal to 1 (see `ces surveys --help`)"),
    (["flags", "--limit", "99999999999999999999"],
     "ces: error: Invalid value for '--limit': Input should be less than or equal to 100000 (see `ces flags --help`)"),
    (["worker", "--pool", "bogus"],
     "ces: error: Invalid value for '--pool': 'bogus' is not one of 'threads', 'prefork', 'solo'. "
     "(see `ces worker --help`)"),
    (["model", "show", "--format", "csv"],
     "ces: error: Invalid value for '--format': 'csv' is not one of 'table', 'json'. (see `ces model show --help`)"),
])
def test_a_usage_error_is_one_line(args, line):
    code, out, err = run(*args)
    assert (code, out, err) == (2, "", line + "\n")


def test_a_command_that_reads_never_creates_a_database(tmp_path, monkeypatch):
    """Without a configuration the default database is ./ces.db: listing must not leave one there."""
    for key in [k for k in os.environ if k.startswith("CES_") and k not in ("CES_TEST_POSTGRES", "CES_TEST_REDIS")]:
        monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)
    for args in (["surveys"], ["events"], ["flags"], ["report"], ["alerts"], ["connectors", "list"]):
        code, out, err = run(*args)
        assert code == 1 and out == "", args
        assert err == ("ces: no database at ces.db (CES_CONFIG is not set: the default database): run `ces migrate` "
                       "to create it, or point CES_CONFIG at your configuration\n")
    assert list(tmp_path.iterdir()) == []


def test_commands_refuse_a_schema_that_is_behind(config, tmp_path):
    (tmp_path / "empty.db").touch()  # a database with no schema (a missing file is its own error)
    config.write(db_url=f"sqlite:///{tmp_path / 'empty.db'}")
    code, _, err = run("surveys")
    assert code == 1
    from ces.worker.db.migrate import head_revision

    head = head_revision()
    assert err.strip().splitlines() == [f"ces: database schema is at nothing, this version needs {head}: run `ces migrate`"]
    code, out, _ = run("migrate")
    assert code == 0 and f"database schema at {head}" in out
    assert run("surveys")[0] == 0


def test_an_unreachable_database_is_one_line(config):
    config.write(db_url="postgresql://postgres@127.0.0.1:1/none")
    code, _, err = run("events")
    assert code == 1 and err.startswith("ces: database:") and len(err.strip().splitlines()) == 1


def test_listings_in_json(config, rt, queue, sink, zendesk_api, capsys):
    from tests.pipeline import receive

    zendesk_api.get("https://acme.zendesk.com/api/v2/tickets/5158.json", status=404, json={"error": "RecordNotFound"})
    receive(rt, "status_changed_solved.json", "inv-1")
    queue.drain(rt)
    code, out, _ = call(capsys, "surveys", "--failed", "--format", "json")
    [row] = json.loads(out)
    assert code == 0 and row["state"] == "failed" and "404" in row["reason"]
    code, out, _ = call(capsys, "events", "--format", "csv")
    assert out.splitlines()[0] == "id,connector,ticket,event,state,attempts,received,outcome"
    code, out, _ = call(capsys, "connectors", "list", "--format", "json")
    [conn] = json.loads(out)
    assert conn["id"] == "zendesk-main" and conn["webhook_url"].endswith("/webhooks/zendesk-main")
    assert conn["last_event"] is not None and conn["mode"] == "enabled"
    # The fetch above spent one call of the account's shared budget.
    assert (conn["api_calls_last_minute"], conn["rate_limit_per_minute"]) == (1, 200)
    assert "history" in conn["can"] and "note" in conn["can"]


@pytest.mark.parametrize("name", ["ces.example.toml", "ces.compose.toml"])
def test_the_shipped_example_configurations_are_valid(name, monkeypatch, capsys):
    from pathlib import Path

    for var in ("ZENDESK_OAUTH_TOKEN", "ZENDESK_WEBHOOK_SECRET", "SMTP_USER", "SMTP_PASSWORD"):
        monkeypatch.setenv(var, "x")
    monkeypatch.setenv("CES_CONFIG", str(Path(__file__).parent.parent / "config" / name))
    code, out, err = call(capsys, "config", "check", "--offline")  # their database and Redis are elsewhere
    assert code == 0, err


def test_surveys_preview_renders_mail_and_pages(config, capsys, tmp_path):
    code, out, _ = call(capsys, "surveys", "preview", "--locale", "en", "--scale", "effort5", "--out", str(tmp_path))
    assert code == 0
    assert "Subject: How easy was it to get help with request #12345?" in out
    assert "How much effort did you personally have to put forth to handle your request?" in out
    for name in ("mail.html", "survey.html", "thanks.html"):
        assert (tmp_path / name).read_text().startswith("<!DOCTYPE html>")
    assert (tmp_path / "survey.html").read_text().count('name="score"') == 5


def test_surveys_test_send_mails_an_admin_and_never_reports_it(config, rt, sink, capsys):
    from ces.worker.queries.reports import ces_report
    from ces.worker.queries.scope import Scope

    code, out, _ = call(capsys, "surveys", "test-send", "admin@acme.test", "--locale", "en")
    assert code == 0 and "test survey sent to admin@acme.test" in out
    [mail] = sink.messages
    assert mail["To"] == "admin@acme.test"
    today = rt.now().date()
    from datetime import timedelta

    report = ces_report(Scope.everything(), rt, today - timedelta(days=1), today + timedelta(days=1))
    assert report["rows"][0]["surveys_sent"] == 0


def test_test_send_to_an_unreachable_mail_server_is_one_line(config, capsys):
    config.write(smtp_port=1)
    code, _, err = call(capsys, "surveys", "test-send", "admin@acme.test")
    assert code == 1 and err.startswith("ces: cannot reach the mail server 127.0.0.1:1")
    assert len(err.strip().splitlines()) == 1


def test_migrations_match_the_models(db_url):
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from ces.worker.db.engine import make_engine
    from ces.worker.db.migrate import on_this_database
    from ces.worker.db.models import Base

    engine = make_engine(db_url)
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"include_object": on_this_database(conn.dialect.name)})
        diff = compare_metadata(context, Base.metadata)
    engine.dispose()
    assert diff == []


def test_an_unreachable_helpdesk_shows_in_the_listings(config, make_rt, queue, capsys):
    """Connection refused: the connector's last error and its time, the flags' missing history in
    words, and when the pending survey is tried again."""
    from ces.worker.scheduler import tick
    from tests.pipeline import receive
    from tests.support import free_port

    config.write(zendesk_url=f"http://127.0.0.1:{free_port()}")  # nothing listens there
    rt = make_rt()
    receive(rt, "status_changed_solved.json", "inv-1")
    queue.drain(rt)
    tick(rt)  # the scheduler enqueues the due collect job
    queue.drain(rt)
    code, out, _ = call(capsys, "connectors", "list", "--format", "json")
    [conn] = json.loads(out)
    assert code == 0 and "unreachable (connection refused)" in conn["last_error"]
    assert conn["last_error_at"] is not None
    code, out, _ = call(capsys, "connectors", "list")
    assert "connection refused" in out and conn["last_error_at"][:10] in out

    code, out, _ = call(capsys, "flags", "--level", "all")
    assert code == 0 and "signals incomplete: helpdesk unreachable (connection refused)" in out
    code, out, _ = call(capsys, "flags", "--level", "all", "--format", "json")
    [flag] = json.loads(out)
    assert flag["partial"] and flag["incomplete"] == "helpdesk unreachable (connection refused)"

    code, out, _ = call(capsys, "surveys", "--format", "json")
    [survey] = json.loads(out)
    assert survey["state"] == "pending" and survey["due"] is not None
    assert "connection refused" in survey["reason"]
    header, _, row = call(capsys, "surveys")[1].splitlines()[:3]
    assert "due" in header.split() and survey["due"][:10] in row


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # the file alone
def test_config_check_reports_every_problem_in_one_run_in_plain_words(config, capsys, monkeypatch):
    """Fixing one problem never reveals the next: types, spellings, a route's own rules and unset
    secrets come out together, each in words that say what to write."""
    monkeypatch.delenv("TEST_ZENDESK_SECRET")
    text = config.path.read_text()
    text = text.replace("[survey]\n", '[survey]\ndelay_secnds = 5\nquiet_hours = { start = "25:00" }\n')
    text = text.replace("[smtp]\n", '[smtp]\npassword = "hunter2-not-for-screens"\n')
    text = text.replace("concurrency = 4", "concurrency = 0")
    text = text.replace("[[connectors]]", '[[alerts.routes]]\nname = "lead"\ntype = "teams"\nlevels = ["urgent"]\n\n'
                                          '[[connectors]]')
    config.path.write_text(text + 'subdomain = "https://acme.zendesk.com"\n')
    code, out, err = call(capsys, "config", "check")
    path = str(config.path)
    assert code == 1 and out == ""
    lines = err.strip().splitlines()
    assert all(line.startswith(f"{path}: ") for line in lines)
    expected = [
        "survey.quiet_hours.start: must be a time like 21:00, not '25:00'",
        "survey.delay_secnds: unknown key (fix: did you mean delay_seconds?)",
        "smtp.password: a secret is never written in the configuration file (fix: remove it; put the secret in an "
        'environment variable and write password_env = "VARIABLE" (or password_file = "/path/to/file"))',
        "worker.concurrency: must be 1 or more, not 0",
        "alerts.routes[0].levels[0]: must be one of 'low', 'medium', 'high', not 'urgent'",
        "alerts.routes[0]: a teams route needs url_env",  # its own rule, checked on what is valid
        'connectors[0].subdomain: must be the lowercase name alone, like "acme" (not a URL)',
        "connectors[0].webhook_secret_env: environment variable TEST_ZENDESK_SECRET is not set",
    ]
    for line in expected:
        assert any(f"{path}: {line}" in got for got in lines), (line, lines)
    assert len(lines) == len(expected)
    assert "hunter2" not in err and "Input should" not in err and "pattern" not in err


def test_config_check_connects_to_the_database_and_redis_unless_offline(config, capsys, tmp_path):
    path = str(config.path)
    code, out, _ = call(capsys, "config", "check")
    assert code == 0 and "database and Redis answer" in out

    missing = tmp_path / "nowhere.db"
    config.write(db_url=f"sqlite:///{missing}", redis_url="redis://127.0.0.1:1/0")
    code, out, err = call(capsys, "config", "check")
    assert code == 1 and err.strip().splitlines() == [
        f"{path}: database_url: the SQLite file {missing} does not exist (fix: run `ces migrate` to create it)",
        f"{path}: broker_url: Redis does not answer: Error 111 connecting to 127.0.0.1:1. Connection refused. "
        "(fix: start Redis, or correct broker_url)"]
    assert not missing.exists()  # checking never creates it
    code, out, err = call(capsys, "config", "check", "--offline")
    assert code == 0 and "(offline: database and Redis not checked)" in out

    (tmp_path / "empty.db").touch()
    config.write(db_url=f"sqlite:///{tmp_path / 'empty.db'}", redis_url="redis://127.0.0.1:6379/0")
    code, _, err = call(capsys, "config", "check")
    assert code == 1 and "database_url: the schema is at nothing, this version needs" in err
    assert "(fix: run `ces migrate`)" in err

    config.write(db_url="postgresql://postgres@127.0.0.1:5432/ces_no_such_database")
    code, _, err = call(capsys, "config", "check")
    assert code == 1 and 'database_url: cannot connect: connection failed' not in err
    assert 'database "ces_no_such_database" does not exist (fix: create the database' in err


def test_config_check_without_a_configuration_says_it_uses_the_defaults(monkeypatch):
    for key in [k for k in os.environ if k.startswith("CES_") and k not in ("CES_TEST_POSTGRES", "CES_TEST_REDIS")]:
        monkeypatch.delenv(key)
    code, out, err = run("config", "check")
    assert code == 0, err
    assert out.strip() == "no configuration file set (CES_CONFIG): using defaults (the demo: `ces up` runs it)"


class _Answering:
    """A local server that answers every request with one status (or, with `tls`, over TLS with a
    certificate nobody trusts; with `silent`, never)."""

    def __init__(self, tmp_path, status: int = 200, *, tls: bool = False, silent: bool = False):
        import http.server
        import ssl
        import threading

        from tests.support import free_port

        status_ = status

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                if silent:
                    threading.Event().wait(5)
                    return
                self.send_response(status_)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"error": "no"}')

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.server.daemon_threads = True
        if tls:
            key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
            subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
                            "-out", str(cert), "-days", "1", "-subj", "/CN=127.0.0.1"], check=True,
                           capture_output=True)
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(cert, key)
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # no database work here
@pytest.mark.parametrize("case,cause", [
    ("refused", "unreachable (connection refused)"),
    ("dns", "unreachable (DNS name not found)"),
    ("tls", "unreachable (TLS certificate problem)"),
    ("timeout", "no answer in time (read timeout)"),
    (401, "401 Unauthorized (wrong credentials)"),
    (403, "403 Forbidden (missing permission)"),
    (404, "404 Not Found (wrong address or subdomain, or the item no longer exists)"),
])
def test_connectors_test_says_the_cause_in_words_and_prints_no_log_lines(config, tmp_path, case, cause):
    from tests.support import free_port

    server = None
    if case == "refused":
        url = f"http://127.0.0.1:{free_port()}"
    elif case == "dns":
        url = "http://helpdesk.no-such-name.invalid"
    else:
        server = _Answering(tmp_path, case if isinstance(case, int) else 200, tls=case == "tls",
                            silent=case == "timeout")
        url = server.url
    try:
        config.write(zendesk_url=url)
        text = config.path.read_text().replace('log_level = "WARNING"', 'log_level = "INFO"')
        config.path.write_text(text.replace("retries = 2", "retries = 1"))
        code, out, err = run("connectors", "test", "zendesk-main")
    finally:
        if server:
            server.close()
    assert code == 1
    assert out.splitlines()[0].startswith("FAIL  authentication: Zendesk current user at ")
    assert out.splitlines()[0].endswith(cause) or f"{cause} (2 attempts)" in out, out
    assert err == ""  # the answer alone: no JSON log lines around it


def test_an_unexpected_error_is_one_line_and_a_logged_traceback(config, tmp_path, monkeypatch):
    """Something nobody foresaw (here a database file that is not a database): the person reads one
    line; the log has the traceback; --debug or CES_DEBUG=1 shows it on the terminal too."""
    (tmp_path / "junk.db").write_bytes(b"not a database at all, " * 100)
    config.write(db_url=f"sqlite:///{tmp_path / 'junk.db'}")
    code, out, err = run("surveys")
    lines = err.strip().splitlines()
    assert code == 1 and out == ""
    assert lines[-1] == ("ces: error: unexpected DatabaseError: (sqlite3.DatabaseError) file is not a database "
                         "(traceback in the log; --debug shows it here)")
    logged = [json.loads(line) for line in lines[:-1]]
    assert [entry["event"] for entry in logged] == ["unexpected_error"]
    assert logged[0]["exception"].startswith("Traceback (most recent call last):")
    assert "Traceback" not in err.replace(logged[0]["exception"], "").replace(lines[0], "")
    for debug in (["--debug"], []):
        if not debug:
            monkeypatch.setenv("CES_DEBUG", "1")
        code, _, err = run(*debug, "surveys")
        assert code == 1 and "\nTraceback (most recent call last):\n" in err
        assert err.strip().splitlines()[-1].startswith("ces: error: unexpected DatabaseError")
