"""The authorization matrix (security requirement 15): every route under /openapi/v1, every caller.

The routes are read from the URL configuration (Django's resolver and the Channels ``sse_patterns``
of ``apps_runtime/routing.py``); the expected answers are written by hand in ``MATRIX``. A route
with no row fails, so whoever adds a route must say who may call it.

Callers, each with a real token minted for the test (``conftest.py``'s cast):
- ``owner``: alice, owner of the workspace ``acme`` that holds the target objects (a ``dfoa_``);
- ``member``: bob, a ``normal`` member of ``acme``;
- ``outsider``: charlie, member of another workspace only;
- ``external``: an external SSO subject (a ``dfoe_``): the other subject type on account routes;
  on the external surface the three account callers are the other subject type;
- ``revoked``: a revoked ``dfoa_`` of alice;
- ``anonymous``: no ``Authorization`` header.

Path parameters name objects of the owner (``PARAMS``); a row may add a query string or a body.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from asgiref.testing import ApplicationCommunicator

from accounts.audit import Actor
from tests.authz_matrix import Route, django_routes, sse_routes

CALLERS = ("anonymous", "revoked", "external", "outsider", "member", "owner")
# The owner goes last: its answer may change the world (a revoked session, a switched workspace).


@dataclass(frozen=True)
class Row:
    owner: int
    member: int
    outsider: int
    external: int
    revoked: int = 401
    anonymous: int = 401
    query: str = (
        ""  # appended to the path, after filling placeholders ("workspace_id={workspace_id}")
    )
    body: dict[str, Any] | None = None  # sent as JSON
    path: str | None = None  # the path to request when the template is not a fillable one
    reads_bearer: bool = True  # False: the route ignores Authorization (public or session routes)
    page: bool = False  # a page a browser is sent to (the SSO branch): its errors are HTML

    def expected(self, caller: str) -> int:
        return int(getattr(self, caller))


def bearer(owner: int, member: int, outsider: int, external: int, **kw: Any) -> Row:
    """A bearer route: a revoked token and no token are 401."""
    return Row(owner, member, outsider, external, **kw)


def public(status: int, **kw: Any) -> Row:
    """A route whose answer does not depend on who calls (no bearer is read)."""
    return Row(
        status, status, status, status, revoked=status, anonymous=status, reads_bearer=False, **kw
    )


MATRIX_DSL = (
    "app: {name: Matrix import, mode: chat}\nversion: '0.6.0'\n"
    "model_config: {model: {provider: openai, name: gpt-4o-mini}}\n"
)
ACCOUNT_ONLY = 403  # wrong_surface for the external subject on /workspaces* and /apps*
WRONG_SURFACE = 403  # account subjects on /permitted-external-apps*

MATRIX: dict[str, Row] = {
    # --- public ------------------------------------------------------------------------------
    "GET /openapi/v1/_health": public(200),
    "GET /openapi/v1/_version": public(200),
    "GET /openapi/v1/schema": public(200),
    "GET /openapi/v1/docs": public(200),
    "GET /openapi/v1(?:/.*)?": public(404, path="/openapi/v1/no-such-route"),
    # --- device flow: anonymous routes ignore a bearer; approve/deny need a browser session ------
    "POST /openapi/v1/oauth/device/code": public(
        200, body={"client_id": "difyctl", "device_label": "matrix"}
    ),
    "POST /openapi/v1/oauth/device/token": public(
        400, body={"client_id": "difyctl", "device_code": "not-a-real-device-code"}
    ),
    "GET /openapi/v1/oauth/device/lookup": public(200, query="user_code=BCDF-GHJK"),
    # A bearer token can never approve or deny a login (security requirement 6).
    "POST /openapi/v1/oauth/device/approve": public(401, body={"user_code": "BCDF-GHJK"}),
    "POST /openapi/v1/oauth/device/deny": public(401, body={"user_code": "BCDF-GHJK"}),
    # The SSO branch (issue 23): no provider named, no sign-in state, no approval-grant cookie.
    "GET /openapi/v1/oauth/device/sso-initiate": public(
        404, query="user_code=BCDF-GHJK", page=True
    ),
    "GET /openapi/v1/oauth/device/sso-complete": public(400, query="state=x&code=y", page=True),
    "GET /openapi/v1/oauth/device/approval-context": public(401),
    "POST /openapi/v1/oauth/device/approve-external": public(401, body={}),
    # --- account (both subject types) -------------------------------------------------------
    "GET /openapi/v1/account": bearer(200, 200, 200, 200),
    "GET /openapi/v1/account/sessions": bearer(200, 200, 200, 200),
    "DELETE /openapi/v1/account/sessions/self": bearer(200, 200, 200, 200),
    # {session_id} is another session of the owner.
    "DELETE /openapi/v1/account/sessions/{session_id}": bearer(200, 404, 404, 404),
    # --- workspaces (account subjects) ------------------------------------------------------
    "GET /openapi/v1/workspaces": bearer(200, 200, 200, ACCOUNT_ONLY),
    "GET /openapi/v1/workspaces/{workspace_id}": bearer(200, 200, 404, ACCOUNT_ONLY),
    "POST /openapi/v1/workspaces/{workspace_id}/switch": bearer(200, 200, 404, ACCOUNT_ONLY),
    "POST /openapi/v1/workspaces/{workspace_id}:switch": bearer(200, 200, 404, ACCOUNT_ONLY),
    # Members: any member lists; the owner and admins manage ({member_id} is bob, the ``member``,
    # who may not change his own role or remove himself).
    "GET /openapi/v1/workspaces/{workspace_id}/members": bearer(200, 200, 404, ACCOUNT_ONLY),
    "POST /openapi/v1/workspaces/{workspace_id}/members": bearer(
        201, 403, 404, ACCOUNT_ONLY, body={"email": "matrix@example.com", "role": "normal"}
    ),
    "PUT /openapi/v1/workspaces/{workspace_id}/members/{member_id}/role": bearer(
        200, 403, 404, ACCOUNT_ONLY, body={"role": "editor"}
    ),
    "PATCH /openapi/v1/workspaces/{workspace_id}/members/{member_id}": bearer(
        200, 403, 404, ACCOUNT_ONLY, body={"role": "editor"}
    ),
    "DELETE /openapi/v1/workspaces/{workspace_id}/members/{member_id}": bearer(
        200, 403, 404, ACCOUNT_ONLY
    ),
    # --- apps (account subjects) -------------------------------------------------------------
    # The list keeps the contract's 403 workspace_membership_revoked for non-members (decisions §5)
    "GET /openapi/v1/apps": bearer(
        200, 200, 403, ACCOUNT_ONLY, query="workspace_id={workspace_id}"
    ),
    "GET /openapi/v1/apps/{app_id}/describe": bearer(200, 200, 404, ACCOUNT_ONLY),
    "GET /openapi/v1/apps/{app_id}": bearer(200, 200, 404, ACCOUNT_ONLY),
    "GET /openapi/v1/apps/{app_id}/export": bearer(200, 403, 404, ACCOUNT_ONLY),
    "GET /openapi/v1/apps/{app_id}/dsl": bearer(200, 403, 404, ACCOUNT_ONLY),
    "GET /openapi/v1/apps/{app_id}/check-dependencies": bearer(200, 403, 404, ACCOUNT_ONLY),
    "GET /openapi/v1/apps/{app_id}/dependencies:check": bearer(200, 403, 404, ACCOUNT_ONLY),
    # Editors and above import; {import_id} is a pending import of the owner (only they confirm).
    "POST /openapi/v1/workspaces/{workspace_id}/apps/imports": bearer(
        200, 403, 404, ACCOUNT_ONLY, body={"mode": "yaml-content", "yaml_content": MATRIX_DSL}
    ),
    "POST /openapi/v1/workspaces/{workspace_id}/apps/imports/{import_id}/confirm": bearer(
        200, 403, 404, ACCOUNT_ONLY
    ),
    "POST /openapi/v1/workspaces/{workspace_id}/apps/imports/{import_id}:confirm": bearer(
        200, 403, 404, ACCOUNT_ONLY
    ),
    # Uploads are multipart: without a file part it is 422 once the app is found (outsider 404).
    "POST /openapi/v1/apps/{app_id}/files/upload": bearer(422, 422, 404, ACCOUNT_ONLY),
    "POST /openapi/v1/apps/{app_id}/files": bearer(422, 422, 404, ACCOUNT_ONLY),
    # --- human-input forms: the form of a run the owner started (decisions §5: a member who did
    # not start the run gets the same 404 as an outsider; so does an external end user) ----------
    "GET /openapi/v1/apps/{app_id}/form/human_input/{form_token}": bearer(200, 404, 404, 404),
    "POST /openapi/v1/apps/{app_id}/form/human_input/{form_token}": bearer(
        200, 404, 404, 404, body={"action": "approve", "inputs": {}}
    ),
    "GET /openapi/v1/apps/{app_id}/human-input-forms/{form_token}": bearer(200, 404, 404, 404),
    "POST /openapi/v1/apps/{app_id}/human-input-forms/{form_token}:submit": bearer(
        200, 404, 404, 404, body={"action": "approve", "inputs": {}}
    ),
    # --- permitted external apps (external subjects) ----------------------------------------
    "GET /openapi/v1/permitted-external-apps": bearer(
        WRONG_SURFACE, WRONG_SURFACE, WRONG_SURFACE, 200
    ),
    "GET /openapi/v1/permitted-external-apps/{app_id}/describe": bearer(
        WRONG_SURFACE, WRONG_SURFACE, WRONG_SURFACE, 200
    ),
    "GET /openapi/v1/permitted-external-apps/{app_id}": bearer(
        WRONG_SURFACE, WRONG_SURFACE, WRONG_SURFACE, 200
    ),
    # --- runs; a run belongs to whoever started it (decisions §5) -------------------------------
    # {task_id} is a run the owner started: other members get 404 like outsiders. The external
    # subject runs the app as an end user (contract G2: it is public), but not the owner's run.
    "POST /openapi/v1/apps/{app_id}/run": bearer(200, 200, 404, 200, body={"inputs": {}}),
    "POST /openapi/v1/apps/{app_id}:run": bearer(200, 200, 404, 200, body={"inputs": {}}),
    "GET /openapi/v1/apps/{app_id}/tasks/{task_id}/events": bearer(200, 404, 404, 404),
    "POST /openapi/v1/apps/{app_id}/tasks/{task_id}/stop": bearer(200, 404, 404, 404),
    "POST /openapi/v1/apps/{app_id}/tasks/{task_id}:stop": bearer(200, 404, 404, 404),
}


# --- the world every route is called in ------------------------------------------------------


@dataclass
class World:
    tokens: dict[str, str | None]
    objects: dict[str, Any]


@pytest.fixture
def world(alice, bob, charlie, acme, token_for, settings) -> Iterator[World]:
    from django.utils import timezone

    from accounts.models import AccessToken
    from accounts.services import access_token_revoke
    from accounts.tokens import token_digest
    from apps_runtime.models import App, AppImport
    from apps_runtime.tests.factories import make_workflow_app, start_variable

    settings.OPENAPI_RATE_LIMIT_PER_TOKEN = 0
    settings.OPENAPI_ACCOUNT_RATE_LIMIT_PER_MINUTE = 0
    # Public so the external subject may see it: the external surface then answers 200, and the
    # account surface decides by membership alone.
    app = make_workflow_app(
        acme,
        name="Matrix App",
        access_mode=App.AccessMode.PUBLIC,
        variables=[start_variable("topic", required=False)],
    )
    other_session = token_for(alice, label="alice's other device")
    revoked = token_for(alice, label="revoked")
    access_token_revoke(
        AccessToken.objects.get(token_hash=token_digest(revoked)),
        actor=Actor.of_account(alice),
        reason="matrix",
    )
    tokens: dict[str, str | None] = {
        "owner": token_for(alice, label="owner"),
        "member": token_for(bob, label="member"),
        "outsider": token_for(charlie, label="outsider"),
        "external": token_for(external_email="sso@partner.example"),
        "revoked": revoked,
        "anonymous": None,
    }
    from apps_runtime.runs.models import Run

    run = Run.objects.create(
        app=app,
        workspace=acme,
        mode=app.mode,
        subject_type="account",
        subject_email=alice.email,
        account=alice,
        workflow_run_id=uuid.uuid4(),
    )
    pending_import = AppImport.objects.create(
        workspace=acme,
        account=alice,
        status=AppImport.Status.PENDING,
        yaml_content=MATRIX_DSL.replace("0.6.0", "0.99.0"),
        imported_dsl_version="0.99.0",
        current_dsl_version="0.6.0",
        expires_at=timezone.now() + timedelta(hours=1),
    )
    objects = {
        "workspace_id": str(acme.id),
        "app_id": str(app.id),
        "task_id": str(run.workflow_run_id),
        "session_id": str(AccessToken.objects.get(token_hash=token_digest(other_session)).id),
        "member_id": str(bob.id),
        "import_id": str(pending_import.id),
        "form_token": _paused_form_token(app, alice),
    }
    yield World(tokens, objects)
    # The run routes start jobs in worker threads: let them end before the database is flushed.
    from apps_runtime.runs.executor import get_executor

    get_executor().wait_idle(10)


def _paused_form_token(app: Any, account: Any) -> str:
    """A paused run of ``account`` on ``app`` and its form's API token (one action, no fields)."""
    import uuid
    from types import SimpleNamespace

    from django.db import transaction

    from apps_runtime.forms.runflow import pause_events
    from apps_runtime.runs.models import Run

    run = Run.objects.create(
        app=app,
        workspace_id=app.workspace_id,
        mode=app.mode,
        subject_type="account",
        subject_email=account.email,
        account=account,
        workflow_run_id=uuid.uuid4(),
        status=Run.Status.PAUSED,
    )
    pause = SimpleNamespace(
        node_id="review",
        node_title="Review",
        form_content="Go on?",
        inputs=[],
        actions=[{"id": "approve", "title": "Approve", "button_style": "primary"}],
        timeout_seconds=3600,
        delivery_methods=[{"id": "w", "enabled": True, "type": "webapp"}],
    )
    with transaction.atomic():
        events = pause_events(run, pause)
    return str(events[0]["data"]["form_token"])


# How to fill a path parameter: the owner's object of that kind (see ``World.objects``).
PARAMS: dict[str, Callable[[World], str]] = {
    name: (lambda w, n=name: w.objects[n])
    for name in (
        "workspace_id",
        "app_id",
        "session_id",
        "task_id",
        "member_id",
        "import_id",
        "form_token",
    )
}


def _missing_row(route: Route) -> str:
    key = route.key if route.method != "ANY" else f"<METHOD> {route.template}"
    return (
        f"{key} has no row in the authorization matrix. Add one to MATRIX in "
        f"tests/test_authorization_matrix.py saying what each caller gets, e.g.\n"
        f'    "{key}": bearer(owner=200, member=200, outsider=404, external=403),\n'
        "(public(status) for a route that reads no bearer; extend PARAMS/World for a new path "
        "parameter)."
    )


def _request_path(route: Route, row: Row, world: World) -> str:
    if row.path is not None:
        return row.path
    values = {}
    for name in route.params:
        if name not in PARAMS:
            pytest.fail(
                f"{route.key}: no filler for path parameter {{{name}}}; add the owner's object "
                "of that kind to World and PARAMS in tests/test_authorization_matrix.py"
            )
        values[name] = PARAMS[name](world)
    path = route.template.format(**values)
    if row.query:
        path += "?" + row.query.format(**values, **world.objects)
    return path


def _check(route: Route, caller: str, row: Row, status: int, headers: dict[str, str], body: bytes):
    expected = row.expected(caller)
    assert status == expected, (
        f"{route.key} as {caller}: got {status}, the matrix says {expected}: {body[:300]!r}"
    )
    if status >= 400 and not row.page:
        assert headers.get("content-type", "").startswith("application/json"), (route.key, caller)
    if status == 401 and row.reads_bearer:
        assert headers.get("www-authenticate", "").startswith("Bearer"), (route.key, caller)


# --- Django routes ---------------------------------------------------------------------------

DJANGO_ROUTES = django_routes()


@pytest.mark.parametrize("route", DJANGO_ROUTES, ids=[r.key for r in DJANGO_ROUTES])
def test_route_answers_each_caller_as_the_matrix_says(route: Route, world: World) -> None:
    from rest_framework.test import APIClient

    row = MATRIX.get(route.key)
    if row is None:
        pytest.fail(_missing_row(route))
    path = _request_path(route, row, world)
    for caller in CALLERS:
        client = APIClient()
        token = world.tokens[caller]
        if token:
            client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
        response = client.generic(
            route.method,
            path,
            data=json.dumps(row.body) if row.body is not None else "",
            content_type="application/json",
        )
        headers = {k.lower(): v for k, v in response.headers.items()}
        _check(route, caller, row, response.status_code, headers, response.content)


# --- Channels (SSE) routes: their answer before the stream starts ----------------------------

# A consumer does not declare its methods: the table's rows for its path name them.
SSE_ROUTES = sse_routes(MATRIX)


async def _asgi_call(path: str, method: str, token: str | None, body: dict[str, Any] | None):
    from config.asgi import application

    raw_path, _, query = path.partition("?")
    headers = [(b"host", b"testserver"), (b"content-type", b"application/json")]
    if token:
        headers.append((b"authorization", f"Bearer {token}".encode()))
    payload = json.dumps(body).encode() if body is not None else b""
    headers.append((b"content-length", str(len(payload)).encode()))
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": raw_path,
        "raw_path": raw_path.encode(),
        "query_string": query.encode(),
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    communicator = ApplicationCommunicator(application, scope)
    await communicator.send_input({"type": "http.request", "body": payload})
    start = await communicator.receive_output(timeout=10)
    assert start["type"] == "http.response.start", start
    headers_out = {k.decode().lower(): v.decode() for k, v in start.get("headers", [])}
    first = b""
    if start["status"] >= 400:
        chunk = await communicator.receive_output(timeout=10)
        first = chunk.get("body", b"")
    # The answer is known; whatever streams next is the engine's business, not the matrix's.
    await communicator.send_input({"type": "http.disconnect"})
    try:
        await communicator.wait(timeout=5)
    except Exception:  # a stream cut mid-way may raise on its way out; the answer is known
        pass
    return start["status"], headers_out, first


@pytest.mark.parametrize("route", SSE_ROUTES, ids=[r.key for r in SSE_ROUTES])
def test_sse_route_answers_each_caller_as_the_matrix_says(
    route: Route, transactional_db: None, world: World
) -> None:
    row = MATRIX.get(route.key)
    if row is None:
        pytest.fail(_missing_row(route))
    path = _request_path(route, row, world)
    for caller in CALLERS:
        status, headers, body = async_to_sync(_asgi_call)(
            path, route.method, world.tokens[caller], row.body
        )
        _check(route, caller, row, status, headers, body)


def test_every_row_names_a_route_that_exists() -> None:
    """A renamed or removed route must take its row with it (no stale rows that test nothing)."""
    known = {r.key for r in DJANGO_ROUTES} | {r.key for r in SSE_ROUTES}
    assert set(MATRIX) - known == set()
