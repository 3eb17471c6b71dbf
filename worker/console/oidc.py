"""Single sign-on with OpenID Connect (authorization code with PKCE, state and nonce), as a
relying party built on Authlib: its requests client makes the authorization URL and trades the
code; the ID token is verified with the provider's keys (joserfc) and Authlib's claims rules (iss,
aud, exp, nonce, at_hash). Who the person is in the console comes from their groups:
`[console.oidc] roles` (group → role, the highest wins) and `teams` (group → helpdesk groups).

Between the redirect to the provider and the way back, state, nonce, the PKCE verifier and where
to go after are kept in a short-lived cookie signed with a key of this installation."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass

import requests
import structlog
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.jwk import KeySet

from ces.config.secrets import MissingSecret
from ces.worker.db.models import Role
from ces.worker.i18n import N_
from ces.worker.privacy import installation_key

log = structlog.get_logger("ces.console")

COOKIE = "ces_oidc"
COOKIE_PATH = "/login/oidc"
FLOW_SECONDS = 600  # from the click on the button to the way back
RANK = {Role.AGENT: 1, Role.LEAD: 2, Role.ADMIN: 3}


class OidcError(Exception):
    """Sign-in did not work; the message is for the person (never the provider's own words)."""


@dataclass(frozen=True)
class Identity:
    subject: str
    email: str
    name: str | None
    role: str
    teams: list[str]


def _settings(rt):
    return rt.settings.console.oidc


def callback_url(rt) -> str:
    return f"{rt.settings.console_url}/login/oidc/callback"


def _client(rt) -> OAuth2Session:
    oidc = _settings(rt)
    try:
        secret = oidc.secret("client_secret")
    except MissingSecret as exc:
        log.warning("oidc_misconfigured", key=f"console.oidc.{exc.key}")
        raise OidcError(N_("Single sign-on is not set up completely (its client secret is missing).")) from None
    return OAuth2Session(oidc.client_id, secret, scope=" ".join(oidc.scopes), redirect_uri=callback_url(rt),
                         code_challenge_method="S256", token_endpoint_auth_method="client_secret_basic")


def _get_json(rt, client, url: str, *, with_token: bool = False) -> dict:
    http = rt.settings.http
    try:
        response = client.get(url, timeout=(http.connect_timeout_seconds, http.read_timeout_seconds),
                              withhold_token=not with_token)
        response.raise_for_status()
        return response.json()
    except (requests.RequestException, ValueError) as exc:
        log.warning("oidc_unreachable", url=url, error=type(exc).__name__)
        raise OidcError(N_("The single sign-on provider did not answer. Try again in a moment.")) from None


def _discovery(rt, client) -> dict:
    return _get_json(rt, client, f"{_settings(rt).issuer}/.well-known/openid-configuration")


def start(rt) -> tuple[str, dict]:
    """The provider's authorization URL, and what the way back must match (for the cookie)."""
    client = _client(rt)
    flow = {"state": generate_token(32), "nonce": generate_token(32), "verifier": generate_token(48)}
    url, _ = client.create_authorization_url(_discovery(rt, client)["authorization_endpoint"], state=flow["state"],
                                             nonce=flow["nonce"], code_verifier=flow["verifier"])
    return url, flow


def _verified_claims(rt, client, meta: dict, tokens: dict, nonce: str) -> dict:
    oidc = _settings(rt)
    keys = KeySet.import_key_set(_get_json(rt, client, meta["jwks_uri"]))
    try:
        token = jwt.decode(tokens["id_token"], keys,
                           algorithms=meta.get("id_token_signing_alg_values_supported") or ["RS256"])
        claims = CodeIDToken(token.claims, token.header, {"iss": {"values": [oidc.issuer]}},
                             {"nonce": nonce, "client_id": oidc.client_id, "access_token": tokens.get("access_token")})
        claims.validate(leeway=60)
    except Exception as exc:  # any failure (signature, claims, a malformed token) is the same refusal
        log.warning("oidc_id_token_refused", error=type(exc).__name__)
        raise OidcError(N_("The single sign-on answer could not be verified.")) from None
    return dict(claims)


def finish(rt, code: str, flow: dict) -> dict:
    """Trades the code for tokens and returns the verified claims (with the groups from userinfo
    when the ID token does not carry them)."""
    client = _client(rt)
    meta = _discovery(rt, client)
    http = rt.settings.http
    try:
        tokens = client.fetch_token(meta["token_endpoint"], code=code, code_verifier=flow["verifier"],
                                    timeout=(http.connect_timeout_seconds, http.read_timeout_seconds))
    except Exception as exc:  # Authlib raises its own errors and requests' alike
        log.warning("oidc_code_refused", error=type(exc).__name__)
        raise OidcError(N_("The single sign-on provider refused the sign-in. Try again.")) from None
    claims = _verified_claims(rt, client, meta, tokens, flow["nonce"])
    groups_claim = _settings(rt).groups_claim
    if groups_claim not in claims and meta.get("userinfo_endpoint"):
        info = _get_json(rt, client, meta["userinfo_endpoint"], with_token=True)
        if info.get("sub") == claims.get("sub"):
            claims[groups_claim] = info.get(groups_claim, [])
    return claims


def identity(rt, claims: dict) -> Identity:
    """Who the claims say this is in the console, or OidcError when no group of theirs is mapped."""
    oidc = _settings(rt)
    email = str(claims.get("email") or "").strip().lower()
    if not email or claims.get("email_verified") is False:
        raise OidcError(N_("Your single sign-on account has no verified e-mail address."))
    groups = claims.get(oidc.groups_claim) or []
    groups = [groups] if isinstance(groups, str) else [str(g) for g in groups]
    roles = [oidc.roles[g] for g in groups if g in oidc.roles]
    if not roles:
        raise OidcError(N_("Your account is not in a group that may use the console. "
                        "Ask your admin to add you to one."))
    teams = sorted({team for g in groups for team in oidc.teams.get(g, [])})
    return Identity(str(claims["sub"]), email, claims.get("name"), max(roles, key=RANK.get), teams)


# --- the cookie that carries the flow from the redirect to the way back ---------------------------
def _key(rt) -> bytes:
    return hmac.new(installation_key(rt), b"console oidc flow", hashlib.sha256).digest()


def seal(rt, flow: dict) -> str:
    body = base64.urlsafe_b64encode(json.dumps(flow, separators=(",", ":")).encode()).decode().rstrip("=")
    return f"{body}.{hmac.new(_key(rt), body.encode(), hashlib.sha256).hexdigest()}"


def unseal(rt, value: str | None) -> dict | None:
    body, _, mac = (value or "").partition(".")
    if not body or not hmac.compare_digest(mac.encode(), hmac.new(_key(rt), body.encode(), hashlib.sha256)
                                           .hexdigest().encode()):
        return None
    try:
        return json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    except ValueError:
        return None
