"""Node tools for the browser tests: a real OpenID Connect provider and axe-core.

They come from the npm registry, pinned by tests/node/package-lock.json, and are installed by the
first test that needs them (`npm ci`, once; skipped while node_modules matches the lockfile), so the
README's test command alone still runs everything. Without npm the tests fail, never skip.

oidc-provider is pinned to 8.8.1, its last release supported on Node.js 20 (the machine's): 9.x has no
`engines` field but warns "Unsupported runtime" below Node.js 22. Move to 9.x with Node.js 22.

Its fixtures (oidc_provider, oidc_redirect_uri) are registered in conftest.py (pytest_plugins).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import secrets
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.support import free_port, wait_until

NODE_DIR = Path(__file__).parent / "node"
LOCKFILE = NODE_DIR / "package-lock.json"
NPM_CI_TIMEOUT_SECONDS = 600  # the first install, from the registry (measured: about 5 s here)
PROVIDER_START_SECONDS = 30

# The provider's accounts: its login form takes any of these ids, with any password.
ACCOUNTS = {
    "admin": {"email": "admin@acme.test", "name": "Ada Admin", "groups": ["ces-admins"]},
    "lead": {"email": "lead@acme.test", "name": "Lee Lead", "groups": ["support-leads", "team-billing"]},
    "agent": {"email": "agent@acme.test", "name": "Amy Agent", "groups": ["support-agents", "team-billing"]},
}


def _installed_from() -> str | None:
    stamp = NODE_DIR / "node_modules" / ".installed-from"
    return stamp.read_text() if stamp.exists() else None


def node_modules() -> Path:
    """tests/node/node_modules, installed from the lockfile with `npm ci` on first use."""
    wanted = hashlib.sha256(LOCKFILE.read_bytes()).hexdigest()
    if _installed_from() == wanted:
        return NODE_DIR / "node_modules"
    npm, node = shutil.which("npm"), shutil.which("node")
    if not (npm and node):
        pytest.fail("the browser tests need Node.js and npm to install their tools from tests/node/package-lock.json "
                    "(Debian: apt-get install nodejs npm)", pytrace=False)
    with open(NODE_DIR / ".npm-ci.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another test run may be installing right now
        if _installed_from() != wanted:
            done = subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=NODE_DIR, capture_output=True, text=True,
                                  timeout=NPM_CI_TIMEOUT_SECONDS)
            if done.returncode != 0:
                pytest.fail(f"`npm ci` in tests/node failed (it needs the npm registry):\n{done.stderr[-3000:]}",
                            pytrace=False)
            (NODE_DIR / "node_modules" / ".installed-from").write_text(wanted)
    return NODE_DIR / "node_modules"


@dataclass
class OidcProvider:
    """A running provider: what a relying party (the console) is configured with."""

    issuer: str
    client_id: str
    client_secret: str
    redirect_uri: str
    accounts: dict[str, dict] = field(default_factory=lambda: dict(ACCOUNTS))


@pytest.fixture
def oidc_redirect_uri(app_port) -> str:
    """The client's one redirect URI; a test module overrides this fixture for the console's own callback."""
    return f"http://127.0.0.1:{app_port}/oidc/callback"


@pytest.fixture
def oidc_provider(oidc_redirect_uri, tmp_path):
    """tests/node/oidc_server.mjs on a free port, with one confidential client and ACCOUNTS."""
    node_modules()
    port = free_port()
    provider = OidcProvider(issuer=f"http://127.0.0.1:{port}", client_id="ces-console",
                            client_secret=secrets.token_urlsafe(24), redirect_uri=oidc_redirect_uri)
    client = {"client_id": provider.client_id, "client_secret": provider.client_secret,
              "redirect_uris": [oidc_redirect_uri]}
    out, err = tmp_path / "oidc.out", tmp_path / "oidc.err"
    with open(out, "wb") as stdout, open(err, "wb") as stderr:
        proc = subprocess.Popen(
            ["node", "oidc_server.mjs", "--port", str(port), "--issuer", provider.issuer], cwd=NODE_DIR,
            env={"PATH": os.environ["PATH"], "OIDC_CLIENT": json.dumps(client),
                 "OIDC_ACCOUNTS": json.dumps(provider.accounts)},
            stdout=stdout, stderr=stderr)
    try:
        def ready():
            if proc.poll() is not None:
                raise AssertionError(f"the OpenID provider exited ({proc.returncode}):\n{err.read_text()[-3000:]}")
            return "ready" in out.read_text()

        wait_until(ready, PROVIDER_START_SECONDS, 0.05, "the OpenID provider to listen")
        yield provider
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def axe_scan(driver) -> list[str]:
    """The page's serious and critical accessibility violations (axe-core's rules), one line each."""
    driver.execute_script((node_modules() / "axe-core" / "axe.min.js").read_text())
    driver.set_script_timeout(60)
    result = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "axe.run(document, {resultTypes: ['violations']})"
        ".then(r => done(r.violations), e => done({error: String(e)}));")
    if isinstance(result, dict):
        raise AssertionError(f"axe-core failed on the page: {result['error']}")
    return [
        f"{v['id']} ({v['impact']}): {v['help']} — {', '.join(' '.join(n['target']) for n in v['nodes'])}"
        for v in result if v["impact"] in ("serious", "critical")
    ]
