"""HubSpot's contract kit: an event array signed with signature v3 (method, URI, body, timestamp)."""

from ces.connectors.hubspot.connector import sign
from tests.connectors.kit import PUBLIC, Kit
from tests.support import fixture_json


def signed(body: bytes, secret: str, at) -> dict[str, str]:
    ts = str(int(at.timestamp() * 1000))
    return {"X-HubSpot-Signature-Version": "v3", "X-HubSpot-Request-Timestamp": ts,
            "X-HubSpot-Signature-v3": sign(secret, "POST", f"{PUBLIC}/webhooks/hubspot-main", body, ts)}


KIT = Kit(
    settings={"access_token_env": "HS_TOKEN", "client_secret_env": "HS_SECRET", "portal_id": "24601234",
              "app_id": "3301122"},
    env={"HS_TOKEN": "pat-eu1-2b9c1e44-0000-4f3a-9d7e-8a1b2c3d4e5f", "HS_SECRET": "hubspot-client-secret-5d1f"},
    secret="client_secret", sign=signed, fixture_kind="hubspot",
    event="stage_closed.json", irrelevant="contact_property_change.json", not_json="not_json.txt",
    required_headers=("X-HubSpot-Signature-v3", "X-HubSpot-Request-Timestamp"),
    bounded={"ticket": (0, "objectId"), "actor": (0, "sourceId"), "delivery": (0, "eventId"),
             "times": [(0, "occurredAt")]},
    api_root="https://api.hubapi.com", ticket_id="5158001234", ticket_path="crm/v3/objects/tickets/5158001234",
    assignee=("51230077", "lina@acme.test"),
    reads={"crm/v3/objects/tickets/5158001234": "api_ticket_with_history.json",
           "crm/v3/objects/contacts/201": "api_contact.json", "crm/v3/owners/51230045": "api_owner_51230045.json",
           "crm/v3/owners/51230077": "api_owner_51230077.json", "settings/v3/users/teams": "api_teams.json"},
    writes=fixture_json("hubspot", "api_search_page2.json"),  # the search is a POST; a note's answer is not read
)
