"""Test fixtures on the real services: PostgreSQL and Redis on localhost, an SMTP server.

Each test session creates its own PostgreSQL database and uses its own Redis key prefix and
queue, so that runs never see each other's data. Database tests run on SQLite and PostgreSQL.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import psycopg
import pytest
import redis
import responses
from sqlalchemy import text

from tests.support import ZENDESK_SECRET, ZENDESK_TOKEN, Queue, free_port

PG_ADMIN = os.environ.get("CES_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("CES_TEST_REDIS", "redis://127.0.0.1:6379/0")
SESSION = uuid.uuid4().hex[:10]

# Fixtures kept beside their helpers: the headless browser, the Node tools (OpenID provider, axe-core).
pytest_plugins = ("tests.browser", "tests.node_tools")


@pytest.fixture(autouse=True)
def structured_logs():
    """Logs as in production: JSON lines on stderr (stdout stays for the commands' output); set
    again before each test, because a command run in-process configures its own level."""
    from ces.worker import logs

    logs.configure("INFO")


@pytest.fixture(scope="session")
def redis_prefix():
    prefix = f"ces-test-{SESSION}:"
    yield prefix
    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
    if keys:
        client.delete(*keys)


@pytest.fixture(scope="session")
def pg_database():
    name = f"ces_test_{SESSION}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = PG_ADMIN.rsplit("/", 1)[0] + "/" + name
    from ces.worker.db.engine import make_engine
    from ces.worker.db.migrate import upgrade

    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    yield url
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _truncate(url: str) -> None:
    from ces.worker.db.engine import make_engine
    from ces.worker.db.models import Base

    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {', '.join(Base.metadata.tables)} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'ces.db'}"
        from ces.worker.db.engine import make_engine
        from ces.worker.db.migrate import upgrade

        engine = make_engine(url)
        upgrade(engine)
        engine.dispose()
        return url
    url = request.getfixturevalue("pg_database")
    _truncate(url)
    return url


@pytest.fixture
def sink():
    from ces.worker.demo.smtp_sink import MailSink

    s = MailSink(port=free_port()).start()
    yield s
    s.stop()


@pytest.fixture
def app_port() -> int:
    return free_port()


BASE_TOML = """
public_url = "http://127.0.0.1:{port}"
database_url = "{db_url}"
broker_url = "{redis_url}"
broker_prefix = "{prefix}"
queue = "ces-test-{session}"
log_level = "WARNING"

[smtp]
host = "127.0.0.1"
port = {smtp_port}
sender = "Acme Support <support@acme.test>"
reply_to = "support@acme.test"
timeout_seconds = 5

[survey]
company = "Acme"
{survey}

[worker]
lease_seconds = 5
requeue_after_seconds = 0.5
max_attempts = 3
retry_base_seconds = 0.05
retry_max_seconds = 0.2
sweep_interval_seconds = 0.1
visibility_timeout_seconds = 30
concurrency = 4

[http]
connect_timeout_seconds = 1
read_timeout_seconds = 2
retries = 2
backoff_base_seconds = 0.01
backoff_max_seconds = 0.05

[intake]
db_timeout_seconds = 5
retry_after_seconds = 30

{connectors}
"""


def connector_table(kind: str, name: str = "", **keys: str) -> str:
    """A [[connectors]] table of `kind`, with the id `name` ("<kind>-main") and these keys (all strings)."""
    lines = "".join(f'{key} = "{value}"\n' for key, value in keys.items())
    return f'\n[[connectors]]\nid = "{name or kind + "-main"}"\nkind = "{kind}"\n{lines}'


ZENDESK_KEYS = {"email": "admin@acme.test", "api_token_env": "TEST_ZENDESK_TOKEN",
                "webhook_secret_env": "TEST_ZENDESK_SECRET"}
ZENDESK_CONNECTOR = connector_table("zendesk", base_url="{zendesk_url}", **ZENDESK_KEYS, api_user_id="8447388090400")
# A second Zendesk account beside the first, for what is kept per connector.
ZENDESK_EU = connector_table("zendesk", "zendesk-eu", base_url="https://acme-eu.zendesk.com", **ZENDESK_KEYS)
# The other helpdesks, configured but never called: every secret is one of two variables
# (OTHER_SECRETS), the generic connector's a Standard Webhooks secret of its own.
OTHER_SECRETS = {"TEST_OTHER_KEY": "other-key", "TEST_OTHER_SECRET": "other-secret"}
OTHER_HELPDESKS = {
    "generic": {"webhook_secret_env": "TEST_GENERIC_SECRET"},
    "freshdesk": {"domain": "acme", "api_key_env": "TEST_OTHER_KEY", "webhook_secret_env": "TEST_OTHER_SECRET"},
    "front": {"api_token_env": "TEST_OTHER_KEY", "webhook_secret_env": "TEST_OTHER_SECRET"},
    "helpscout": {"app_id_env": "TEST_OTHER_KEY", "app_secret_env": "TEST_OTHER_SECRET",
                  "webhook_secret_env": "TEST_OTHER_SECRET"},
    "intercom": {"access_token_env": "TEST_OTHER_KEY", "client_secret_env": "TEST_OTHER_SECRET", "admin_id": "5017999"},
    "hubspot": {"access_token_env": "TEST_OTHER_KEY", "client_secret_env": "TEST_OTHER_SECRET", "app_id": "1234567"},
    "zammad": {"base_url": "https://support.acme.test", "api_token_env": "TEST_OTHER_KEY",
               "webhook_secret_env": "TEST_OTHER_SECRET"},
}


def other_helpdesks(*kinds: str) -> str:
    return "".join(connector_table(kind, **OTHER_HELPDESKS[kind]) for kind in kinds)


class ConfigWriter:
    """Writes the test's TOML and sets CES_CONFIG and the secrets, as an admin would."""

    def __init__(self, tmp_path: Path, monkeypatch, db_url: str, prefix: str, app_port: int):
        self.path = tmp_path / "ces.toml"
        self.monkeypatch = monkeypatch
        self.values = dict(db_url=db_url, redis_url=REDIS_URL, prefix=prefix, session=SESSION, port=app_port,
                           smtp_port=1, zendesk_url="https://acme.zendesk.com", survey="", connectors=None)
        monkeypatch.setenv("TEST_ZENDESK_TOKEN", ZENDESK_TOKEN)
        monkeypatch.setenv("TEST_ZENDESK_SECRET", ZENDESK_SECRET)
        for key in [k for k in os.environ if k.startswith("CES_") and k not in ("CES_TEST_POSTGRES", "CES_TEST_REDIS")]:
            monkeypatch.delenv(key)

    def write(self, extra: str = "", **values) -> Path:
        """`survey` adds lines to [survey]; `extra` is appended (inside the last [[connectors]])."""
        self.values.update(values)
        fill = dict(self.values)
        fill["connectors"] = (self.values["connectors"] or ZENDESK_CONNECTOR).format(**self.values)
        self.path.write_text(BASE_TOML.format(**fill) + extra, encoding="utf-8")
        self.monkeypatch.setenv("CES_CONFIG", str(self.path))
        return self.path

    def env(self) -> dict[str, str]:
        """The environment a child process (`ces serve`, `ces worker`) needs."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("CES_")}
        env.update(CES_CONFIG=str(self.path), TEST_ZENDESK_TOKEN=ZENDESK_TOKEN, TEST_ZENDESK_SECRET=ZENDESK_SECRET)
        return env


_tests = iter(range(1, 10**9))


@pytest.fixture
def config(tmp_path, monkeypatch, db_url, redis_prefix, app_port, sink) -> ConfigWriter:
    # Each test its own Redis keys (queues, the shared rate limits) under the session's prefix.
    writer = ConfigWriter(tmp_path, monkeypatch, db_url, f"{redis_prefix}{next(_tests)}:", app_port)
    writer.write(smtp_port=sink.port)
    return writer


@pytest.fixture
def zendesk():
    """A simulated Zendesk (its API and its webhooks), as the demo and the end-to-end tests use."""
    from ces.connectors.zendesk.simulator import ZendeskSimulator

    sim = ZendeskSimulator(email="admin@acme.test", token=ZENDESK_TOKEN, secret=ZENDESK_SECRET).start()
    yield sim
    sim.stop()


@pytest.fixture
def queue() -> Queue:
    return Queue()


@pytest.fixture
def make_rt(config, queue):
    """Build a Runtime from the written configuration (rewrite it first to change settings)."""
    from ces.config import load_settings
    from ces.worker.runtime import Runtime, set_runtime

    built = []

    def build(clock=None):
        kwargs = {"clock": clock} if clock else {}
        rt = Runtime(load_settings(), enqueue=queue, **kwargs)
        built.append(rt)
        set_runtime(rt)
        return rt

    yield build
    set_runtime(None)
    for rt in built:
        rt.close()


@pytest.fixture
def rt(make_rt):
    return make_rt()


@pytest.fixture
def clock():
    """A time the test moves by hand; a module whose Runtime reads it overrides `rt` with
    `make_rt(clock=clock)`."""
    from tests.pipeline import Clock

    return Clock()


@pytest.fixture
def zendesk_api():
    """Zendesk's API, mocked in-process at the HTTP boundary; local servers pass through."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add_passthru("http://127.0.0.1")
        yield mock
