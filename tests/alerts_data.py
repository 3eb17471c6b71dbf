"""Alert routes as the tests configure them: the [alerts] TOML, the secrets its routes name, and the
other side of each route (Slack, Teams, a CRM, the Zendesk note and tags) mocked at the HTTP
boundary with `responses`."""

from __future__ import annotations

from tests.pipeline import ZENDESK

SLACK = "https://hooks.slack.com/services/T0001/B0001/SeCrEtSlackToken"
TEAMS = "https://acme.webhook.office.com/webhookb2/SeCrEtTeams"
HOOK = "https://crm.example.com/ces-hooks/SeCrEtPath"
WHSEC = "whsec_c2ltdWxhdGVkLXNlbmRlci1zZWNyZXQtMzJieXRlcw=="
ROUTE_SECRETS = {"TEST_SLACK_URL": SLACK, "TEST_TEAMS_URL": TEAMS, "TEST_HOOK_URL": HOOK, "TEST_HOOK_SECRET": WHSEC}

# A route's lines after its name, by type; a test adds its own lines (`NOTE + 'tag = "x"'`).
NOTE = 'type = "note"\n'
SLACK_ROUTE = 'type = "slack"\nurl_env = "TEST_SLACK_URL"\n'
TEAMS_ROUTE = 'type = "teams"\nurl_env = "TEST_TEAMS_URL"\n'
LEAD_MAIL = 'type = "email"\nto = ["lead@acme.test"]\n'
CRM_HOOK = 'type = "webhook"\nurl_env = "TEST_HOOK_URL"\nsigning_secret_env = "TEST_HOOK_SECRET"\n'


def alerts_section(settle_seconds: float, routes: dict[str, str]) -> str:
    """The [alerts] table with one [[alerts.routes]] per name, in the order given."""
    blocks = "".join(f'\n[[alerts.routes]]\nname = "{name}"\n{lines}' for name, lines in routes.items())
    return f"\n[alerts]\nsettle_seconds = {settle_seconds}\n{blocks}"


# Every route type once, with the names the alert tests assert on.
EVERY_ROUTE = alerts_section(120, {"note": NOTE + 'tag = "ces_low"\n', "slack-support": SLACK_ROUTE,
                                   "teams-leads": TEAMS_ROUTE, "mail": LEAD_MAIL + "to_assignee = true\n",
                                   "crm": CRM_HOOK})


def set_route_secrets(monkeypatch, **more: str) -> None:
    for name, value in {**ROUTE_SECRETS, **more}.items():
        monkeypatch.setenv(name, value)


def mock_routes(api):
    """What each route calls answers: Zendesk's note and tags on ticket 5158, Slack, Teams, the CRM."""
    api.put(f"{ZENDESK}/api/v2/tickets/5158.json", json={"ticket": {"id": 5158}})
    api.put(f"{ZENDESK}/api/v2/tickets/5158/tags.json", json={"tags": []})
    api.post(SLACK, body="ok")
    api.post(TEAMS, body="1")
    api.post(HOOK, json={"received": True})
    return api
