"""The OpenID Connect provider the console's sign-in tests run against (tests/node/oidc_server.mjs,
the npm package oidc-provider), checked as a relying party sees it: discovery, keys, and a whole
authorization-code flow in a real browser, its ID token verified with Authlib against the JWKS."""

from __future__ import annotations

import base64
import json
from urllib.parse import urlencode

import pytest
import requests
from authlib.common.security import generate_token
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from authlib.oidc.core import CodeIDToken
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse
from joserfc import jwt
from joserfc.errors import BadSignatureError
from joserfc.jwk import KeySet
from selenium.webdriver.common.by import By

from tests.support import ServedApp, wait_until

SCOPES = "openid email profile groups"


def with_claims(id_token: str, **changes) -> str:
    """The token with its payload changed and its signature kept: a forgery."""
    header, payload, signature = id_token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    forged = base64.urlsafe_b64encode(json.dumps({**claims, **changes}).encode()).rstrip(b"=").decode()
    return ".".join((header, forged, signature))


def discovery(provider) -> dict:
    response = requests.get(f"{provider.issuer}/.well-known/openid-configuration", timeout=10)
    assert response.status_code == 200
    return response.json()


def exchange(provider, code: str, verifier: str) -> requests.Response:
    """The relying party trades the code for tokens, authenticated with its secret (client_secret_basic)."""
    return requests.post(discovery(provider)["token_endpoint"], auth=(provider.client_id, provider.client_secret),
                         data={"grant_type": "authorization_code", "code": code, "redirect_uri": provider.redirect_uri,
                               "code_verifier": verifier}, timeout=10)


def verified_id_token(id_token: str, provider, *, nonce: str, access_token: str) -> CodeIDToken:
    """What Authlib's OpenID client does with a token response: the signature checked with the provider's
    JWKS (joserfc, Authlib's JOSE library), then iss, aud, exp, nonce and at_hash validated."""
    meta = discovery(provider)
    keys = KeySet.import_key_set(requests.get(meta["jwks_uri"], timeout=10).json())
    token = jwt.decode(id_token, keys, algorithms=meta["id_token_signing_alg_values_supported"])
    claims = CodeIDToken(token.claims, token.header, {"iss": {"values": [provider.issuer]}},
                         {"nonce": nonce, "client_id": provider.client_id, "access_token": access_token})
    claims.validate()
    return claims


def test_discovery_names_the_endpoints_scopes_and_claims_a_console_signs_in_with(oidc_provider):
    meta = discovery(oidc_provider)
    assert meta["issuer"] == oidc_provider.issuer
    for endpoint in ("authorization_endpoint", "token_endpoint", "userinfo_endpoint", "jwks_uri"):
        assert meta[endpoint].startswith(oidc_provider.issuer + "/")
    assert {"openid", "email", "profile", "groups"} <= set(meta["scopes_supported"])
    assert {"email", "name", "groups"} <= set(meta["claims_supported"])
    assert "code" in meta["response_types_supported"]
    assert "S256" in meta["code_challenge_methods_supported"]
    assert "client_secret_basic" in meta["token_endpoint_auth_methods_supported"]
    assert "RS256" in meta["id_token_signing_alg_values_supported"]


def test_the_jwks_has_a_public_signing_key_and_nothing_private(oidc_provider):
    response = requests.get(discovery(oidc_provider)["jwks_uri"], timeout=10)
    assert response.status_code == 200
    [key] = response.json()["keys"]
    assert (key["kty"], key["use"], key["alg"]) == ("RSA", "sig", "RS256") and key["kid"]
    assert not {"d", "p", "q", "dp", "dq", "qi"} & set(key)


@pytest.fixture
def callback(app_port):
    """A stand-in for the console's callback: it records what the provider redirected the browser with."""
    received: list[dict] = []
    app = FastAPI()

    @app.get("/oidc/callback", response_class=HTMLResponse)
    async def landed(request: Request):
        received.append(dict(request.query_params))
        return "<!doctype html><title>Signed in</title><h1>Signed in</h1>"

    with ServedApp(app, app_port):
        yield received


@pytest.mark.browser
def test_a_person_signs_in_with_the_authorization_code_flow_and_the_id_token_says_who(
        oidc_provider, callback, browser):
    meta = discovery(oidc_provider)
    state, nonce, verifier = generate_token(24), generate_token(24), generate_token(48)
    browser.get(meta["authorization_endpoint"] + "?" + urlencode({
        "response_type": "code", "client_id": oidc_provider.client_id, "redirect_uri": oidc_provider.redirect_uri,
        "scope": SCOPES, "state": state, "nonce": nonce,
        "code_challenge": create_s256_code_challenge(verifier), "code_challenge_method": "S256"}))
    # The provider's own login form takes any account id with any password.
    browser.find_element(By.NAME, "login").send_keys("lead")
    browser.find_element(By.NAME, "password").send_keys("any password")
    browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    [landed] = wait_until(lambda: callback, 10, message="the redirect back to the callback")
    assert (landed["state"], landed["iss"]) == (state, oidc_provider.issuer)

    token = exchange(oidc_provider, landed["code"], verifier)
    assert token.status_code == 200, token.text
    tokens = token.json()
    claims = verified_id_token(tokens["id_token"], oidc_provider, nonce=nonce, access_token=tokens["access_token"])
    assert (claims["sub"], claims["email"], claims["name"]) == ("lead", "lead@acme.test", "Lee Lead")
    assert claims["groups"] == ["support-leads", "team-billing"] and claims["email_verified"] is True

    # The same token claiming to be the admin fails the signature check: the verification above is real.
    with pytest.raises(BadSignatureError):
        verified_id_token(with_claims(tokens["id_token"], email="admin@acme.test"), oidc_provider, nonce=nonce,
                          access_token=tokens["access_token"])

    # The code is used up: a second exchange is refused.
    again = exchange(oidc_provider, landed["code"], verifier)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
