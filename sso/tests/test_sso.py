"""The device flow's SSO branch against a real OpenID provider (issue 23).

The provider is npm's ``oidc-provider`` (tests/oidc_server.py), one process for the module. Its
development login takes any login name (the email) and password; ``unverified…`` names get
``email_verified: false``. The browser test drives the whole flow in headless Chromium; the
others follow the provider's redirects and forms with httpx, which is the same HTTP a browser
sends, and call our endpoints through Django's test client.
"""

from __future__ import annotations

import html
import os
import re
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx
import pytest
from django.core import signing
from joserfc import jwt
from joserfc.jwk import OctKey, RSAKey

from accounts.audit import Actor
from accounts.models import AccessToken, IdentityProvider
from accounts.services import identity_provider_delete, identity_provider_save
from config.crypto import is_sealed, unseal
from oauth_device.models import DeviceGrant
from sso.oidc import SsoError, discover, verify_id_token
from sso.views import COOKIE_NAME, COOKIE_SALT
from tests.oidc_server import CLIENT_ID, CLIENT_SECRET, OpenIdProvider, missing

pytestmark = pytest.mark.skipif(missing() is not None, reason=str(missing()))

COMPLETE = "/openapi/v1/oauth/device/sso-complete"
INITIATE = "/openapi/v1/oauth/device/sso-initiate"
APPROVE = "/openapi/v1/oauth/device/approve-external"
CONTEXT = "/openapi/v1/oauth/device/approval-context"
TOKEN = "/openapi/v1/oauth/device/token"


@pytest.fixture(scope="module")
def op(live_server: Any) -> Iterator[OpenIdProvider]:
    provider = OpenIdProvider([f"http://testserver{COMPLETE}", f"{live_server.url}{COMPLETE}"])
    yield provider
    provider.stop()


@pytest.fixture
def partner(op: OpenIdProvider, acme: Any, settings: Any) -> IdentityProvider:
    """The operator's provider: users of partner.test see the permitted apps of ``acme``."""
    settings.HTTP_NODE_ALLOWED_HOSTS = ["127.0.0.1"]
    settings.DEVICE_POLL_INTERVAL_SECONDS = 1
    provider = IdentityProvider(
        slug="partner",
        name="Partner",
        discovery_url=op.discovery_url,
        issuer=op.issuer,
        client_id=CLIENT_ID,
        allowed_email_domains="partner.test",
    )
    identity_provider_save(
        provider, client_secret=CLIENT_SECRET, actor=Actor.system("test"), created=True
    )
    provider.workspaces.set([acme])
    return provider


def start_login(client: Any, label: str = "difyctl on partner-laptop") -> dict[str, Any]:
    response = client.post(
        "/openapi/v1/oauth/device/code",
        {"client_id": "difyctl", "device_label": label},
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    return response.json()


def op_sign_in(op: OpenIdProvider, authorize_url: str, login: str) -> str:
    """Sign in at the provider and consent, as a person would; the URL it sends us back to."""
    with httpx.Client(timeout=10) as http:
        response = http.get(authorize_url)
        for _ in range(12):
            if response.is_redirect:
                target = urljoin(str(response.url), response.headers["location"])
                if not target.startswith(op.issuer):
                    return target
                response = http.get(target)
                continue
            assert response.status_code == 200, response.text[:500]
            form = re.search(r'<form[^>]*action="([^"]+)"', response.text)
            prompt = re.search(r'name="prompt" value="(\w+)"', response.text)
            assert form and prompt, response.text[:500]
            data = {"prompt": prompt.group(1)}
            if prompt.group(1) == "login":
                data |= {"login": login, "password": "any password"}
            response = http.post(
                urljoin(str(response.url), html.unescape(form.group(1))), data=data
            )
    raise AssertionError("the provider never sent the browser back")


def sign_in(client: Any, op: OpenIdProvider, code: dict[str, Any], login: str) -> Any:
    """From "continue with Partner" to the page ``sso-complete`` answers."""
    started = client.get(INITIATE, {"user_code": code["user_code"], "provider": "partner"})
    assert started.status_code == 302, started.content
    back = urlsplit(op_sign_in(op, started["Location"], login))
    assert back.path == COMPLETE
    return client.get(f"{back.path}?{back.query}")


def approve(client: Any, csrf: str | None, **extra: Any) -> Any:
    headers = {"HTTP_X_CSRF_TOKEN": csrf} if csrf is not None else {}
    return client.post(APPROVE, {}, content_type="application/json", **headers, **extra)


def poll(client: Any, code: dict[str, Any]) -> dict[str, Any]:
    response = client.post(
        TOKEN,
        {"client_id": "difyctl", "device_code": code["device_code"]},
        content_type="application/json",
    )
    return response.json()


def csrf_of(page: Any) -> str:
    found = re.search(rb'name="csrf_token" value="([^"]+)"', page.content)
    assert found, page.content[:800]
    return found.group(1).decode()


# --- the SSO branch over HTTP --------------------------------------------------------------


def test_a_partner_user_signs_in_and_the_poll_mints_a_dfoe_token(client, op, partner, clock):
    code = start_login(client)
    started = client.get(INITIATE, {"user_code": code["user_code"], "provider": "partner"})
    query = parse_qs(urlsplit(started["Location"]).query)
    # Authorization code flow with PKCE (S256), state and nonce.
    assert query["response_type"] == ["code"] and query["code_challenge_method"] == ["S256"]
    assert query["client_id"] == [CLIENT_ID] and query["nonce"] and query["state"]
    back = urlsplit(op_sign_in(op, started["Location"], "Jo@Partner.test"))
    page = client.get(f"{back.path}?{back.query}")
    assert page.status_code == 200, page.content
    assert b"jo@partner.test" in page.content and b"difyctl on partner-laptop" in page.content
    cookie = page.cookies[COOKIE_NAME]
    assert cookie["path"] == "/openapi/v1/oauth/device" and cookie["httponly"]
    assert int(cookie["max-age"]) == 300
    assert poll(client, code) == {"error": "authorization_pending"}

    context = client.get(CONTEXT).json()
    assert context["subject_email"] == "jo@partner.test"
    assert context["subject_issuer"] == op.issuer
    assert context["csrf_token"] == csrf_of(page)
    assert approve(client, context["csrf_token"]).json() == {"status": "approved"}

    clock.advance(2)  # past the poll interval
    login = poll(client, code)
    assert login["token"].startswith("dfoe_")
    assert login["subject_type"] == "external_sso"
    assert login["subject_email"] == "jo@partner.test"
    assert login["subject_issuer"] == op.issuer
    assert login["account"] is None and login["workspaces"] == []
    token = AccessToken.objects.get(pk=login["token_id"])
    assert token.identity_provider_id == partner.pk and token.account_id is None

    # G1: /account answers the external identity, /account/sessions its own sessions.
    bearer = {"HTTP_AUTHORIZATION": f"Bearer {login['token']}"}
    me = client.get("/openapi/v1/account", **bearer).json()
    assert me["subject_type"] == "external_sso" and me["subject_issuer"] == op.issuer
    sessions = client.get("/openapi/v1/account/sessions", **bearer).json()
    assert [row["id"] for row in sessions["data"]] == [login["token_id"]]
    assert sessions["data"][0]["prefix"] == "dfoe_"


def test_a_replayed_redirect_is_refused(client, op, partner):
    code = start_login(client)
    started = client.get(INITIATE, {"user_code": code["user_code"], "provider": "partner"})
    back = urlsplit(op_sign_in(op, started["Location"], "jo@partner.test"))
    assert client.get(f"{back.path}?{back.query}").status_code == 200
    again = client.get(f"{back.path}?{back.query}")
    assert again.status_code == 400 and b"already used" in again.content


@pytest.mark.parametrize(
    ("login", "status", "says"),
    [
        ("unverified-jo@partner.test", 403, b"has not verified this email"),
        ("eve@elsewhere.test", 403, b"domain may not sign in"),
    ],
)
def test_emails_the_provider_has_not_verified_or_of_other_domains_are_refused(
    client, op, partner, login, status, says
):
    code = start_login(client)
    page = sign_in(client, op, code, login)
    assert page.status_code == status and says in page.content
    assert COOKIE_NAME not in page.cookies
    assert DeviceGrant.objects.get(user_code=code["user_code"]).status == "pending"


def test_an_email_of_an_account_here_is_told_to_log_in_with_the_account(
    client, op, partner, make_account
):
    make_account("kim@partner.test")
    code = start_login(client)
    page = sign_in(client, op, code, "KIM@partner.test")
    assert page.status_code == 409
    assert b"Log in with your account" in page.content
    assert COOKIE_NAME not in page.cookies


# --- the approval-grant cookie -------------------------------------------------------------


def grant_cookie(partner: IdentityProvider, user_code: str, **changes: Any) -> dict[str, Any]:
    value = {
        "e": "jo@partner.test",
        "i": partner.issuer,
        "p": str(partner.pk),
        "u": user_code,
        "n": uuid.uuid4().hex,
        "c": "csrf-" + uuid.uuid4().hex,
    }
    return value | changes


def set_cookie(client: Any, value: dict[str, Any], *, age: int = 0) -> None:
    class Signer(signing.TimestampSigner):
        def timestamp(self) -> str:
            return signing.b62_encode(int(time.time()) - age)

    client.cookies[COOKIE_NAME] = Signer(salt=COOKIE_SALT).sign_object(value, compress=True)


def test_an_expired_forged_or_replayed_cookie_approves_nothing(client, partner):
    code = start_login(client)
    value = grant_cookie(partner, code["user_code"])
    set_cookie(client, value, age=301)  # past the 5 minutes
    assert approve(client, value["c"]).status_code == 401
    client.cookies[COOKIE_NAME] = signing.dumps(value, salt="another purpose")
    assert approve(client, value["c"]).status_code == 401
    assert client.get(CONTEXT).status_code == 401

    set_cookie(client, value)
    assert approve(client, value["c"]).status_code == 200
    set_cookie(client, value)  # the same cookie again: its nonce is spent
    replay = approve(client, value["c"])
    assert replay.status_code == 401 and "already used" in replay.json()["message"]


def test_the_per_email_limit_counts_attempts_before_the_csrf_check(client, partner, settings):
    settings.SSO_APPROVE_PER_EMAIL_PER_HOUR = 2
    code = start_login(client)
    value = grant_cookie(partner, code["user_code"])
    set_cookie(client, value)
    assert approve(client, None).status_code == 403  # no CSRF token
    assert approve(client, "wrong").status_code == 403
    limited = approve(client, value["c"])  # right token, but the third attempt this hour
    assert limited.status_code == 429 and limited["Retry-After"]
    assert DeviceGrant.objects.get(user_code=code["user_code"]).status == "pending"


def test_a_cookie_for_an_email_outside_the_domains_approves_nothing(client, partner):
    code = start_login(client)
    value = grant_cookie(partner, code["user_code"], e="eve@elsewhere.test")
    set_cookie(client, value)
    assert approve(client, value["c"]).status_code == 403
    assert DeviceGrant.objects.get(user_code=code["user_code"]).status == "pending"


# --- ID-token verification (tokens signed with the provider's own key, wrong claims) --------


def forged_id_token(op: OpenIdProvider, key: Any = None, alg: str = "RS256", **claims: Any) -> str:
    now = int(time.time())
    payload = {
        "iss": op.issuer,
        "sub": "jo",
        "aud": CLIENT_ID,
        "iat": now,
        "exp": now + 300,
        "nonce": "the-nonce",
        "email": "jo@partner.test",
        "email_verified": True,
    } | claims
    payload = {name: value for name, value in payload.items() if value is not None}
    signing_key = key or op.key
    header = {"alg": alg, "kid": signing_key.kid} if signing_key.kid else {"alg": alg}
    return jwt.encode(header, payload, signing_key, algorithms=[alg])


OTHER_KEY = RSAKey.generate_key(2048, parameters={"kid": "op-key"}, private=True)


@pytest.mark.parametrize(
    ("forge", "reason"),
    [
        (lambda op: forged_id_token(op, key=OTHER_KEY), "signature"),
        (lambda op: forged_id_token(op, key=OctKey.import_key("s" * 32), alg="HS256"), "signature"),
        (lambda op: forged_id_token(op, aud="another-client"), "another client"),
        (lambda op: forged_id_token(op, aud=[CLIENT_ID, "other"]), "another client"),
        (lambda op: forged_id_token(op, iss="https://idp.example"), "not valid"),
        (lambda op: forged_id_token(op, exp=int(time.time()) - 3600), "not valid"),
        (lambda op: forged_id_token(op, nonce="an-earlier-sign-in"), "not valid"),
        (lambda op: forged_id_token(op, nonce=None), "not valid"),
        (lambda op: forged_id_token(op, email_verified=False), "not verified"),
        (lambda op: forged_id_token(op, email_verified="true"), "not verified"),
        (lambda op: forged_id_token(op, email="jo@partner.test.evil.example"), "domain"),
    ],
)
def test_id_tokens_with_a_bad_signature_or_claims_are_refused(
    op, partner, forge: Callable[[OpenIdProvider], str], reason: str
):
    metadata = discover(partner)
    with pytest.raises(SsoError) as refused:
        verify_id_token(partner, metadata, forge(op), nonce="the-nonce")
    assert reason in refused.value.reason


def test_a_good_id_token_is_accepted(op, partner):
    identity = verify_id_token(
        partner, discover(partner), forged_id_token(op, email="Jo@Partner.TEST"), nonce="the-nonce"
    )
    assert (identity.email, identity.issuer) == ("jo@partner.test", op.issuer)


def test_the_provider_is_reached_only_under_the_outbound_rules(op, partner, settings, caplog):
    settings.HTTP_NODE_ALLOWED_HOSTS = []
    # Plain http only for an allowed host; a loopback (private) address only when allowed.
    with pytest.raises(SsoError, match="over https"):
        discover(partner)
    partner.discovery_url = op.discovery_url.replace("http://", "https://")
    with pytest.raises(SsoError, match="cannot be reached"):
        discover(partner)
    assert "not allowed" in caplog.text or "private" in caplog.text, caplog.text


# --- the operator's side: admin, revocation ------------------------------------------------


def test_an_operator_adds_a_provider_in_the_admin(client, op, acme, root, settings):
    settings.HTTP_NODE_ALLOWED_HOSTS = ["127.0.0.1"]
    client.force_login(root)
    response = client.post(
        "/admin/accounts/identityprovider/add/",
        {
            "name": "Partner",
            "slug": "partner",
            "discovery_url": op.discovery_url,
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "allowed_email_domains": "partner.test\n@Partner2.test",
            "workspaces": [str(acme.pk)],
            "enabled": "on",
        },
    )
    assert response.status_code == 302, response.content[:2000]
    provider = IdentityProvider.objects.get(slug="partner")
    assert provider.issuer == op.issuer  # read from the discovery document
    assert is_sealed(provider.client_secret) and unseal(provider.client_secret) == CLIENT_SECRET
    assert provider.email_domains == ["partner.test", "partner2.test"]
    page = client.get(f"/admin/accounts/identityprovider/{provider.pk}/change/")
    assert CLIENT_SECRET.encode() not in page.content
    bad = client.post(
        "/admin/accounts/identityprovider/add/",
        {
            "name": "Nowhere",
            "slug": "nowhere",
            "discovery_url": "http://127.0.0.1:9/.well-known/openid-configuration",
            "client_id": "x",
            "client_secret": "y",
            "allowed_email_domains": "partner.test",
        },
    )
    assert bad.status_code == 200 and b"cannot be reached" in bad.content


@pytest.fixture
def partner_token(partner: IdentityProvider) -> str:
    from accounts.services import access_token_mint

    return access_token_mint(
        client_id="difyctl",
        device_label="partner laptop",
        external_email="jo@partner.test",
        external_issuer=partner.issuer,
        identity_provider=partner,
        actor=Actor.system("test"),
    ).raw


@pytest.mark.parametrize("how", ["disable", "delete", "direct write"])
def test_disabling_or_removing_the_provider_ends_its_tokens(client, partner, partner_token, how):
    bearer = {"HTTP_AUTHORIZATION": f"Bearer {partner_token}"}
    assert client.get("/openapi/v1/account", **bearer).status_code == 200
    if how == "disable":
        partner.enabled = False
        identity_provider_save(partner, client_secret=None, actor=Actor.system("t"), created=False)
    elif how == "delete":
        identity_provider_delete(partner, actor=Actor.system("test"))
    else:  # not through the services (a shell, a data migration): the token is refused anyway
        IdentityProvider.objects.filter(pk=partner.pk).update(enabled=False)
    assert client.get("/openapi/v1/account", **bearer).status_code == 401
    if how != "direct write":
        assert AccessToken.objects.get(subject_email="jo@partner.test").revoked_at is not None


def test_an_operator_revoking_the_users_session_ends_it(client, root_client, partner_token):
    bearer = {"HTTP_AUTHORIZATION": f"Bearer {partner_token}"}
    assert client.get("/openapi/v1/permitted-external-apps", **bearer).status_code == 200
    token = AccessToken.objects.get(subject_email="jo@partner.test")
    response = root_client.post(
        "/admin/accounts/accesstoken/",
        {"action": "revoke_selected", "_selected_action": [str(token.pk)]},
    )
    assert response.status_code == 302
    assert client.get("/openapi/v1/permitted-external-apps", **bearer).status_code == 401


def test_the_pages_offer_the_provider_beside_the_account_login(client, partner):
    page = client.get("/accounts/login/?next=/device%3Fuser_code%3DBCDF-GHJK")
    assert b"Continue with Partner" in page.content
    assert b'value="BCDF-GHJK"' in page.content
    assert b"Continue with Partner" not in client.get("/accounts/login/").content


# --- external users run their permitted apps (contract G2) ---------------------------------


def import_app(workspace: Any, author: Any, demo: str, access_mode: str) -> Any:
    from apps_runtime.demo import demo_app_path
    from apps_runtime.dsl import dsl_parse
    from apps_runtime.models import App
    from apps_runtime.services import app_import_parsed

    text = demo_app_path(demo).read_text(encoding="utf-8")
    app = app_import_parsed(
        workspace=workspace, parsed=dsl_parse(text), author=author, actor=Actor.system("test")
    ).app
    App.objects.filter(pk=app.pk).update(access_mode=access_mode)
    return app


@pytest.fixture
def apps(acme: Any, alice: Any) -> dict[str, Any]:
    """In ``acme`` (the provider's): a public and an SSO-verified app, a private one; in
    another workspace: a public app the provider's users may not see."""
    from workspaces.models import Workspace

    elsewhere = Workspace.objects.create(name="Elsewhere")
    return {
        "public": import_app(acme, alice, "echo_workflow.yml", "public"),
        "verified": import_app(acme, alice, "echo_chat.yml", "sso_verified"),
        "private": import_app(acme, alice, "echo_workflow.yml", "private_all"),
        "elsewhere": import_app(elsewhere, alice, "echo_workflow.yml", "public"),
    }


def test_an_external_user_sees_and_reaches_only_its_providers_permitted_apps(
    client, partner, partner_token, apps
):
    from apps_runtime.runs.tests.helpers import assert_error, run_path, sse_call

    bearer = {"HTTP_AUTHORIZATION": f"Bearer {partner_token}"}
    listed = client.get("/openapi/v1/permitted-external-apps", **bearer).json()
    assert {row["id"] for row in listed["data"]} == {
        str(apps["public"].id),
        str(apps["verified"].id),
    }
    for name in ("private", "elsewhere"):
        app = apps[name]
        response = sse_call("POST", run_path(app), token=partner_token, body={"inputs": {"x": "1"}})
        assert_error(response, 404, message="app not found")
        describe = client.get(f"/openapi/v1/permitted-external-apps/{app.id}", **bearer)
        assert describe.status_code == 404
        stop = client.post(f"/openapi/v1/apps/{app.id}/tasks/{uuid.uuid4()}/stop", **bearer)
        assert stop.status_code == 404


def test_every_other_route_answers_wrong_surface(client, partner, partner_token, apps, acme):
    bearer = {"HTTP_AUTHORIZATION": f"Bearer {partner_token}"}
    app = apps["public"]
    for path in (
        "/openapi/v1/workspaces",
        f"/openapi/v1/workspaces/{acme.id}",
        f"/openapi/v1/apps?workspace_id={acme.id}",
        f"/openapi/v1/apps/{app.id}/describe",
        f"/openapi/v1/apps/{app.id}/export",
    ):
        response = client.get(path, **bearer)
        assert response.status_code == 403, path
        assert response.json()["message"].startswith("wrong_surface"), path


def test_a_conversation_is_private_to_the_external_user_who_started_it(
    partner, partner_token, apps, token_for
):
    from apps_runtime.runs.models import Conversation
    from apps_runtime.runs.tests.helpers import assert_error, run_path, sse_call

    chat = apps["verified"]
    mine = Conversation.objects.create(
        app=chat,
        subject_type="external_sso",
        subject_email="jo@partner.test",
        subject_issuer=partner.issuer,
    )
    # The same email from another issuer is another person.
    other = token_for(external_email="jo@partner.test")
    for token in (other, token_for(external_email="max@partner.test")):
        response = sse_call(
            "POST",
            run_path(chat),
            token=token,
            body={"inputs": {}, "query": "hi", "conversation_id": str(mine.id)},
        )
        assert_error(response, 404, message="Conversation Not Exists.")


@pytest.mark.django_db(transaction=True)
def test_an_external_user_chats_with_an_sso_verified_app_over_two_turns(
    partner, partner_token, apps, settings
):
    from apps_runtime.runs.models import Conversation, Run
    from apps_runtime.runs.tests.helpers import run_path, sse_call

    settings.OPENAPI_RATE_LIMIT_PER_TOKEN = 0
    chat = apps["verified"]

    def turn(query: str, **extra: str) -> Any:
        body = {"inputs": {}, "query": query, **extra}
        response = sse_call("POST", run_path(chat), token=partner_token, body=body)
        assert response.status == 200, response.body[:300]
        assert response.names[-1] == "message_end", response.names
        return response

    first = turn("hello from a partner")
    conversation_id = first.events[-1]["conversation_id"]
    answer = "".join(e["answer"] for e in first.events if e["event"] == "message")
    assert "hello from a partner" in answer
    second = turn("and again", conversation_id=conversation_id)
    assert second.events[-1]["conversation_id"] == conversation_id

    conversation = Conversation.objects.get(pk=conversation_id)
    assert (
        conversation.subject_type,
        conversation.subject_email,
        conversation.subject_issuer,
    ) == ("external_sso", "jo@partner.test", partner.issuer)
    runs = Run.objects.filter(conversation=conversation)
    assert runs.count() == 2
    assert set(runs.values_list("account_id", flat=True)) == {None}


# --- the whole flow in a real browser ------------------------------------------------------


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_partner_user_logs_in_from_the_device_page_and_runs_a_permitted_app(
    live_server: Any, op: OpenIdProvider, partner: IdentityProvider, apps: dict[str, Any]
) -> None:
    from accounts.models import AuditEvent
    from apps_runtime.runs.models import Run
    from apps_runtime.runs.tests.helpers import events_path, run_path, sse_call
    from oauth_device.tests.test_browser import (
        CHROMIUM,
        BrowserRun,
        poll_like_difyctl,
        request_code,
        wait_for_path,
    )

    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is missing")
    http = httpx.Client(base_url=live_server.url, timeout=10)
    code = request_code(http, "difyctl on partner-laptop")

    def script(page: Any) -> dict[str, str]:
        page.goto(f"{code['verification_uri']}?user_code={code['user_code']}")
        wait_for_path(page, "/accounts/login/")
        page.get_by_role("button", name="Continue with Partner").click()
        page.wait_for_url(lambda url: url.startswith(op.issuer))
        page.locator('input[name="login"]').fill("sam@partner.test")
        page.locator('input[name="password"]').fill("any password")
        page.get_by_role("button", name="Sign-in").click()
        page.get_by_role("button", name="Continue").click()  # consent
        page.get_by_role("heading", name="Approve this device login?").wait_for()
        confirm = page.locator("main").inner_text()
        page.get_by_role("button", name="Approve").click()
        page.get_by_role("heading", name="Device approved").wait_for()
        return {"confirm": confirm, "result": page.locator("main").inner_text()}

    browser = BrowserRun("sso-approve", script).start()
    login = poll_like_difyctl(http, code, browser)
    seen = browser.join()
    assert "sam@partner.test" in seen["confirm"] and "Partner" in seen["confirm"]
    assert "return to your terminal" in seen["result"]
    assert login["token"].startswith("dfoe_"), login
    assert (login["subject_email"], login["subject_issuer"]) == ("sam@partner.test", op.issuer)

    response = sse_call(
        "POST", run_path(apps["public"]), token=login["token"], body={"inputs": {"x": "hi"}}
    )
    assert response.status == 200, response.body[:300]
    assert response.names[-1] == "workflow_finished"
    assert response.events[-1]["data"]["status"] == "succeeded"
    run = Run.objects.get(app=apps["public"])
    assert (run.subject_type, run.subject_email, run.subject_issuer, run.account_id) == (
        "external_sso",
        "sam@partner.test",
        op.issuer,
        None,
    )
    started = AuditEvent.objects.get(action="run.started")
    assert started.details["caller_kind"] == "end_user"
    assert started.actor_email == "sam@partner.test"
    # Re-attach to the finished run: its own run, so the final event comes back.
    again = sse_call("GET", events_path(apps["public"], run.workflow_run_id), token=login["token"])
    assert again.status == 200 and again.names[-1] == "workflow_finished"
