"""What provisioning shares across helpdesks (Connector.provision and test_delivery).

A kind's provision module (connectors/<kind>/provision.py) finds what it made earlier by a name
holding the connector's id (`marker`), creates what is missing, updates what differs and leaves
the rest alone, saying each step in words. A refused call ends the run with a step that names the
call and what its status means, never the helpdesk's answer (it may repeat what we sent).
"""

from __future__ import annotations

import json
import secrets as random_secrets
from collections.abc import Callable, Iterable
from typing import Any

import structlog

from ces.config.secrets import MissingSecret
from ces.connectors.base import Connector, Provisioned
from ces.connectors.errors import ApiError
from ces.connectors.models import CheckResult

log = structlog.get_logger("ces.provisioning")

# What a refusal means when we set up webhooks and triggers (the connector's own meanings, such as
# Zendesk's 422 "the ticket is closed", are about tickets and would mislead here).
REFUSALS = {
    401: "wrong credentials",
    403: "missing permission: creating webhooks and triggers needs an administrator's credentials",
    404: "not found: check the address, or the helpdesk's plan has no webhooks API",
    422: "the helpdesk refused the webhook or trigger as invalid",
}

# What our own intake's answer to a test webhook means.
INTAKE_ANSWERS = {
    401: "the signature did not verify: store the webhook's current secret in the connector",
    404: "no connector answers at this webhook URL: check public_url",
    503: "the connector is misconfigured (a secret cannot be read) or the database is down",
}


def marker(conn: Connector) -> str:
    """The name of everything provisioning creates: how a second run finds it again."""
    return f"ces-worker ({conn.id})"


def refusal(exc: ApiError) -> str:
    """A failed call in words: the call, the status and its meaning, never the answer's body."""
    meaning = REFUSALS.get(exc.status or 0)
    if meaning is None:
        return exc.detail
    call = exc.detail.partition(": ")[0]
    return f"{call}: answered {exc.status}: {meaning}"


def failure(exc: ApiError | MissingSecret) -> str:
    """A refused call, or API credentials that cannot be read (then nothing was called)."""
    if isinstance(exc, MissingSecret):
        return f"the connector's {exc.key} is not usable: {exc.message} ({exc.fix})"
    return refusal(exc)


class Steps:
    """The steps of one run, and the secrets it obtained."""

    def __init__(self) -> None:
        self.steps: list[CheckResult] = []
        self.secrets: dict[str, str] = {}
        self.current = "api"

    def doing(self, name: str) -> None:
        self.current = name

    def done(self, detail: str, **extra: Any) -> None:
        self.steps.append(CheckResult(self.current, True, detail, extra))

    def failed(self, detail: str) -> None:
        self.steps.append(CheckResult(self.current, False, detail))


def run(conn: Connector, work: Callable[[Connector, Steps], None], reminder: str) -> Provisioned:
    """Run a kind's provisioning; a refused call ends it as a failed step. `reminder`: what is
    left to the admin (e.g. the helpdesk's own survey), the last step of a run that worked."""
    steps = Steps()
    try:
        work(conn, steps)
    except (ApiError, MissingSecret) as exc:
        steps.failed(failure(exc))
    ok = all(step.ok for step in steps.steps)
    if ok:
        steps.doing("left to you")
        steps.done(reminder)
    # What was done, never a secret: the steps' names and outcomes, and which secrets came back.
    log.info("connector_provisioned", connector=conn.id, kind=conn.kind, ok=ok, obtained=sorted(steps.secrets),
             steps=[f"{step.name}:{'ok' if step.ok else 'failed'}" for step in steps.steps])
    return Provisioned(steps.steps, steps.secrets)


def first_named(items: Iterable[Any], key: str, value: str) -> dict | None:
    """The first item whose `key` is `value` (a name filter of a helpdesk may match substrings)."""
    return next((item for item in items if isinstance(item, dict) and item.get(key) == value), None)


def find_in_pages(pages: Iterable[Any], items: Callable[[Any], list], *matches: tuple[str, str]) -> dict | None:
    """The first listed item that has one of `matches` (key, value), in their order of preference."""
    for page in pages:
        listed = items(page)
        for key, value in matches:
            found = first_named(listed, key, value)
            if found:
                return found
    return None


def _loose(value: Any) -> Any:
    """A value with its numbers as text: helpdesks give ids back as numbers or as strings."""
    return json.loads(json.dumps(value), parse_int=str, parse_float=str)


def differences(found: dict, wanted: dict) -> list[str]:
    """The fields of `wanted` that `found` does not have so (an id 7 and "7" are the same)."""
    return [key for key, value in wanted.items() if _loose(found.get(key)) != _loose(value)]


def ensure(steps: Steps, found: dict | None, wanted: dict, *, noun: str, does: str, switch: str,
           create: Callable[[], dict], update: Callable[[dict], None]) -> dict:
    """Create what is missing, update what differs, leave alone what is right; say which.
    `noun` names the thing ("webhook 'ces-worker (zd1)'"), `does` what it does ("sends … to …"),
    `switch` the field that says whether it is on. Returns the helpdesk's record of it."""
    if found is None:
        made = create()
        steps.done(f"created {noun}, which {does}", id=made.get("id"))
        return made
    changed = differences(found, wanted)
    if changed:
        update(found)
        steps.done(f"updated {noun} ({', '.join(changed)}), which {does}", id=found.get("id"))
    else:
        steps.done(f"{noun} already {does}", id=found.get("id"))
    if switch in changed:
        was = found.get(switch)
        steps.done(f"switched {noun} back on (it was {'off' if was in (False, None) else was})")
    return found


def our_secret(conn: Connector, length: int = 40) -> tuple[str, bool]:
    """The webhook secret for a helpdesk where we choose it, and whether it is the one configured:
    that one (so that intake and helpdesk keep agreeing), else a new random one of at most
    `length` characters, which the helpdesk must then be given."""
    try:
        if conn.settings.has_secret("webhook_secret"):
            return conn.settings.secret_values("webhook_secret")[0], True
    except MissingSecret:
        pass
    return random_secrets.token_urlsafe(length)[:length], False


def with_secret(found: dict | None, wanted: dict, key: str, secret: str,
                configured: bool) -> tuple[dict | None, dict, dict]:
    """For a helpdesk that never shows the secret we chose (field `key`): what was found, what it
    should be and what to send. A configured secret is taken to be in place (it cannot be read
    back, and every write sends it again); a new one must reach the helpdesk."""
    sent = {**wanted, key: secret}
    if configured:
        return found, wanted, sent
    return (None if found is None else {**found, key: None}), sent, sent


def keep_secret(steps: Steps, secret: str, configured: bool, noun: str) -> None:
    """Hand a secret we chose to the caller, and say whether it is new."""
    steps.doing("webhook secret")
    steps.secrets["webhook_secret"] = secret
    steps.done(f"{noun} signs with the connector's configured webhook_secret" if configured
               else f"{noun} signs with a new secret we chose (store it as the connector's webhook_secret)")


def intake_answer(conn: Connector, status: object) -> CheckResult:
    """The test webhook's outcome, from the status our intake answered the helpdesk with."""
    if not isinstance(status, int):
        return CheckResult("test delivery", False, f"{conn.title} did not say what {conn.webhook_url} answered")
    if 200 <= status < 300:
        return CheckResult("test delivery", True, f"signed test webhook accepted by {conn.webhook_url} ({status})")
    meaning = INTAKE_ANSWERS.get(status, "see `ces events` and the server's log")
    return CheckResult("test delivery", False, f"{conn.webhook_url} answered {status}: {meaning}")


def delivery_failure(exc: ApiError | MissingSecret) -> CheckResult:
    return CheckResult("test delivery", False, failure(exc))
