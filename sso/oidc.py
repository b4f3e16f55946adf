"""OpenID Connect sign-in against an operator-configured :class:`IdentityProvider` (issue 23).

Authlib builds the authorization request (state, nonce, PKCE S256) and the code exchange's body
and client authentication, which the outbound client sends;
joserfc (Authlib's JOSE library) verifies the ID token: signature against the provider's JWKS
(asymmetric algorithms only), issuer, audience (and ``azp`` when there are several), expiry,
issued-at and nonce. Nothing here parses a JWT by hand.

Every request to the provider goes through the outbound rules (apps_runtime/engine/outbound.py):
a private or loopback address, and plain ``http``, only for hosts in ``HTTP_NODE_ALLOWED_HOSTS``.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

import httpx
from authlib.common.security import generate_token
from authlib.integrations.httpx_client import OAuth2Client
from authlib.oauth2.auth import ClientAuth
from authlib.oauth2.rfc6749.parameters import prepare_token_request
from django.conf import settings
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from joserfc.jwt import JWTClaimsRegistry

from accounts.models import IdentityProvider
from apps_runtime.engine.outbound import OutboundError, fetch, host_is_allowed
from config.crypto import unseal

logger = logging.getLogger("difyapi.sso")

# Never ``none`` or a shared-secret algorithm: the key set is public.
SIGNING_ALGORITHMS = (
    "RS256",
    "RS384",
    "RS512",
    "PS256",
    "PS384",
    "PS512",
    "ES256",
    "ES384",
    "EdDSA",
)
METADATA_MAX_BYTES = 256 * 1024
CLOCK_LEEWAY_SECONDS = 60


class SsoError(Exception):
    """A sign-in that cannot go on; ``reason`` is safe to show (never a secret or a token)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Metadata:
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    userinfo_endpoint: str | None = None


@dataclass(frozen=True)
class AuthorizationStart:
    url: str
    state: str
    nonce: str
    code_verifier: str


@dataclass(frozen=True)
class VerifiedIdentity:
    email: str
    issuer: str
    subject: str


def check_endpoint(url: str) -> None:
    """``https`` always; ``http`` only for a host the operator allowed (a test or local IdP)."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError):
        raise SsoError("the identity provider's URL is not valid") from None
    if parsed.scheme == "https" and parsed.host:
        return
    if parsed.scheme == "http" and parsed.host and host_is_allowed(parsed.host):
        return
    raise SsoError("the identity provider must be reached over https")


def _get_json(url: str, *, bearer: str | None = None) -> dict[str, Any]:
    check_endpoint(url)
    headers = {"Accept": "application/json"}
    if bearer:
        headers["Authorization"] = f"Bearer {bearer}"
    try:
        response = fetch(
            "GET",
            url,
            headers=headers,
            max_bytes=METADATA_MAX_BYTES,
            follow_redirects=False,
            deadline=settings.SSO_HTTP_TIMEOUT_SECONDS,
        )
    except OutboundError as exc:
        logger.warning("identity provider request to %s failed: %s", url, exc)
        raise SsoError("the identity provider cannot be reached") from None
    if response.status_code != 200:
        raise SsoError(f"the identity provider answered {response.status_code}")
    try:
        body = json.loads(response.content)
    except ValueError:
        raise SsoError("the identity provider sent a document that is not JSON") from None
    if not isinstance(body, dict):
        raise SsoError("the identity provider sent a document that is not a JSON object")
    return body


def discover(provider: IdentityProvider) -> Metadata:
    """Read the provider's discovery document (OpenID Connect Discovery 1.0 §4)."""
    document = _get_json(provider.discovery_url)
    fields = ("issuer", "authorization_endpoint", "token_endpoint", "jwks_uri")
    values = {name: document.get(name) for name in fields}
    missing = [name for name, value in values.items() if not isinstance(value, str) or not value]
    if missing:
        raise SsoError(f"the discovery document lacks {', '.join(missing)}")
    userinfo = document.get("userinfo_endpoint")
    metadata = Metadata(
        **values,  # type: ignore[arg-type]
        userinfo_endpoint=userinfo if isinstance(userinfo, str) and userinfo else None,
    )
    # §4.3: the issuer must be the discovery URL's prefix.
    expected = provider.discovery_url.split("/.well-known/", 1)[0].rstrip("/")
    if metadata.issuer.rstrip("/") != expected:
        raise SsoError("the discovery document names another issuer")
    for url in (metadata.authorization_endpoint, metadata.token_endpoint, metadata.jwks_uri):
        check_endpoint(url)
    if metadata.userinfo_endpoint:
        check_endpoint(metadata.userinfo_endpoint)
    return metadata


def _client(provider: IdentityProvider, redirect_uri: str, **kwargs: Any) -> OAuth2Client:
    return OAuth2Client(
        client_id=provider.client_id,
        client_secret=unseal(provider.client_secret) if provider.client_secret else None,
        scope="openid email profile",
        redirect_uri=redirect_uri,
        code_challenge_method="S256",
        trust_env=False,
        **kwargs,
    )


def authorization_start(provider: IdentityProvider, redirect_uri: str) -> AuthorizationStart:
    """Where to send the browser: an authorization request with state, nonce and PKCE."""
    metadata = discover(provider)
    state, nonce, verifier = generate_token(32), generate_token(32), generate_token(64)
    with _client(provider, redirect_uri) as client:
        url, _ = client.create_authorization_url(
            metadata.authorization_endpoint, state=state, nonce=nonce, code_verifier=verifier
        )
    return AuthorizationStart(url=url, state=state, nonce=nonce, code_verifier=verifier)


def authorization_finish(
    provider: IdentityProvider,
    *,
    redirect_uri: str,
    code: str,
    code_verifier: str,
    nonce: str,
) -> VerifiedIdentity:
    """Exchange the code (with the PKCE verifier) and verify the ID token it brings."""
    metadata = discover(provider)
    token = _token_request(provider, metadata, redirect_uri, code, code_verifier)
    id_token = token.get("id_token")
    if not isinstance(id_token, str) or not id_token:
        raise SsoError("the identity provider sent no ID token")
    access_token = token.get("access_token")
    return verify_id_token(
        provider,
        metadata,
        id_token,
        nonce=nonce,
        access_token=access_token if isinstance(access_token, str) else None,
    )


def _token_request(
    provider: IdentityProvider,
    metadata: Metadata,
    redirect_uri: str,
    code: str,
    code_verifier: str,
) -> dict[str, Any]:
    """The code exchange (RFC 6749 §4.1.3 with PKCE): Authlib writes the body and the client
    authentication (``client_secret_basic``); the project's outbound client sends it, under the
    same rules and deadline as every other request to the provider."""
    body = prepare_token_request(
        "authorization_code", code=code, redirect_uri=redirect_uri, code_verifier=code_verifier
    )
    secret = unseal(provider.client_secret) if provider.client_secret else ""
    headers = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"}
    url, headers, body = ClientAuth(provider.client_id, secret, "client_secret_basic").prepare(
        "POST", metadata.token_endpoint, headers, body
    )
    try:
        response = fetch(
            "POST",
            url,
            headers=headers,
            content=body,
            max_bytes=METADATA_MAX_BYTES,
            follow_redirects=False,
            deadline=settings.SSO_HTTP_TIMEOUT_SECONDS,
        )
    except OutboundError as exc:
        logger.warning("token request to %s failed: %s", metadata.token_endpoint, exc)
        raise SsoError("the identity provider cannot be reached") from None
    try:
        token = json.loads(response.content)
    except ValueError:
        token = None
    if not isinstance(token, dict):
        raise SsoError(f"the identity provider answered {response.status_code} without a token")
    if response.status_code != 200 or "error" in token:
        error = token.get("error")
        raise SsoError(
            f"the identity provider refused the sign-in: {error or response.status_code}"
        )
    return token


def verify_id_token(
    provider: IdentityProvider,
    metadata: Metadata,
    id_token: str,
    *,
    nonce: str,
    access_token: str | None = None,
) -> VerifiedIdentity:
    """OpenID Connect Core §3.1.3.7, with ``email_verified`` required.

    A provider may return ``email`` from its UserInfo endpoint only (Core §5.4 for the code
    flow): then it is read there with the access token, and its ``sub`` must match (§5.3.2).
    """
    keys = _get_json(metadata.jwks_uri)
    try:
        key_set = KeySet.import_key_set(keys)  # type: ignore[arg-type]
        decoded = jwt.decode(id_token, key_set, algorithms=list(SIGNING_ALGORITHMS))
    except (JoseError, ValueError, TypeError) as exc:
        logger.info("ID token from %s refused: %s", metadata.issuer, exc)
        raise SsoError("the ID token's signature is not valid") from None
    claims = decoded.claims
    registry = JWTClaimsRegistry(
        leeway=CLOCK_LEEWAY_SECONDS,
        iss={"essential": True, "value": metadata.issuer},
        sub={"essential": True},
        aud={"essential": True},
        exp={"essential": True},
        iat={"essential": True},
        nonce={"essential": True, "value": nonce},
    )
    try:
        registry.validate(claims)
    except JoseError as exc:
        logger.info("ID token from %s refused: %s", metadata.issuer, exc)
        raise SsoError(f"the ID token is not valid ({exc.error})") from None
    audience = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
    if provider.client_id not in audience:
        raise SsoError("the ID token was issued to another client")
    if len(audience) > 1 and claims.get("azp") != provider.client_id:
        raise SsoError("the ID token was issued to another client")
    profile: dict[str, Any] = claims
    if "email" not in claims and access_token and metadata.userinfo_endpoint:
        profile = _get_json(metadata.userinfo_endpoint, bearer=access_token)
        if profile.get("sub") != claims["sub"]:
            raise SsoError("the identity provider's user info names another user")
    email = profile.get("email")
    if not isinstance(email, str) or "@" not in email:
        raise SsoError("the identity provider did not share an email address")
    if profile.get("email_verified") is not True:
        raise SsoError("the identity provider has not verified this email address")
    email = email.strip().lower()
    if not provider.allows_email(email):
        raise SsoError("this email address's domain may not sign in here")
    return VerifiedIdentity(email=email, issuer=metadata.issuer, subject=str(claims["sub"]))
