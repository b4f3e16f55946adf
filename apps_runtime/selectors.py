"""Reads of the app catalog, always scoped to the caller.

Accounts see the apps of the workspaces they belong to; external SSO subjects see the apps whose
access mode is ``public`` or ``sso_verified``. In both cases only apps with the service API on and
status ``normal`` exist for the API. An app the caller cannot see is ``404 app not found``
(decisions §5); only the workspace list keeps the contract's 403 for a non-member.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import connection
from django.db.models import CharField, F, Func, QuerySet

from accounts.models import Account, IdentityProvider, display_name
from apps_runtime.apps import SQLITE_CASEFOLD
from apps_runtime.models import App, AppImport, Tag
from config.api.errors import ApiError
from config.api.wire import page_rows, parse_uuid
from config.compiled_query import CompiledQuery
from workspaces.models import APP_EDITOR_ROLES, Membership, Workspace
from workspaces.selectors import WORKSPACE_NOT_FOUND, is_member

APP_NOT_FOUND = "app not found"
WORKSPACE_MEMBERSHIP_REVOKED = "workspace_membership_revoked"
WORKSPACE_REQUIRED_FOR_NAME = "workspace_id is required for name-based lookup"

# ``name`` filters on its first characters only (contract §5.13).
NAME_FILTER_PREFIX = 30
# Rows listed in the 409 message of an ambiguous name.
AMBIGUOUS_LISTED_MAX = 20

EXTERNAL_ACCESS_MODES = (App.AccessMode.PUBLIC, App.AccessMode.SSO_VERIFIED)


@dataclass(frozen=True, slots=True)
class AppListItem:
    """A row of an app list, read as columns (no App instance, no prefetch machinery)."""

    id: uuid.UUID
    name: str
    description: str
    mode: str
    updated_at: datetime
    workspace_id: uuid.UUID
    workspace_name: str
    author_name: str | None
    tags: list[str]


@dataclass(frozen=True)
class AppPage:
    apps: list[AppListItem]
    page: int
    limit: int
    total: int


# What a list row shows; the author's columns are None when the app has none (LEFT JOIN).
_LIST_COLUMNS = (
    "id",
    "name",
    "description",
    "mode",
    "updated_at",
    "workspace_id",
    "workspace__name",
    "author__name",
    "author__email",
)


def apps_servable() -> QuerySet[App]:
    """Apps the API may expose at all: service API on, status normal."""
    return App.objects.filter(enable_api=True, status=App.Status.NORMAL)


def apps_permitted_external(provider_id: uuid.UUID | None = None) -> QuerySet[App]:
    """Permitted access modes, and never an app of an archived workspace.

    ``provider_id``: the identity provider an external subject signed in with; only the
    workspaces the operator gave that provider (issue 23). None: a token an operator issued
    by hand (``issue_token --external-issuer``), deployment-wide.
    """
    apps = apps_servable().filter(
        access_mode__in=EXTERNAL_ACCESS_MODES, workspace__status=Workspace.Status.NORMAL
    )
    if provider_id is not None:
        visible = IdentityProvider.workspaces.through.objects.filter(
            identityprovider_id=provider_id
        ).values("workspace_id")
        apps = apps.filter(workspace_id__in=visible)
    return apps


def _list_order(apps: QuerySet[App]) -> QuerySet[App]:
    return apps.order_by("-updated_at", "-id")


def _tag_names(app_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[str]]:
    """The tag names of each app, by name (one query for the page)."""
    names: dict[uuid.UUID, list[str]] = defaultdict(list)
    bindings = App.tags.through.objects.filter(app_id__in=app_ids).order_by("tag__name")
    for app_id, name in bindings.values_list("app_id", "tag__name"):
        names[app_id].append(name)
    return names


def _list_items(rows: list[tuple[Any, ...]], *, with_tags: bool) -> list[AppListItem]:
    tags = _tag_names([row[0] for row in rows]) if with_tags and rows else {}
    return [
        AppListItem(
            id=app_id,
            name=name,
            description=description,
            mode=mode,
            updated_at=updated_at,
            workspace_id=workspace_id,
            workspace_name=workspace_name,
            author_name=display_name(author_name, author_email) if author_email else None,
            tags=tags.get(app_id, []),
        )
        for (
            app_id,
            name,
            description,
            mode,
            updated_at,
            workspace_id,
            workspace_name,
            author_name,
            author_email,
        ) in rows
    ]


def _with_describe_relations(apps: QuerySet[App]) -> QuerySet[App]:
    return apps.select_related("workspace", "author", "model_config", "published_workflow")


def _app_by_id(app_id: uuid.UUID) -> QuerySet[App]:
    return _with_describe_relations(App.objects.filter(id=app_id)).order_by()[:1]


def _tags_of(app_id: uuid.UUID) -> QuerySet[Tag]:
    return Tag.objects.filter(apps__id=app_id).order_by("name")


# Describe (and the run and upload routes) look an app up by id on every call; its five-table
# query cost more to build than to run: compiled once (config/compiled_query.py).
_APP_BY_ID = CompiledQuery(_app_by_id, uuid.UUID(int=0))
_TAGS_OF = CompiledQuery(_tags_of, uuid.UUID(int=0))


def app_tag_names(app: App) -> list[str]:
    """The app's tag names, by name."""
    return [tag.name for tag in _TAGS_OF.run(app.id)]


def _name_contains(apps: QuerySet[App], text: str) -> QuerySet[App]:
    """Case-insensitive substring match on the name, for every alphabet (not only ASCII)."""
    if connection.vendor == "sqlite":
        folded = Func(F("name"), function=SQLITE_CASEFOLD, output_field=CharField())
        return apps.annotate(name_folded=folded).filter(name_folded__contains=text.casefold())
    return apps.filter(name__icontains=text)


def _page(
    apps: QuerySet[App], *, page: int, limit: int, name: str | None, with_tags: bool
) -> AppPage:
    """One page of ``apps``; a ``name`` that is a UUID looks up that one app instead."""
    app_id = parse_uuid(name) if name else None
    if app_id is not None:
        found = list(apps.filter(id=app_id).values_list(*_LIST_COLUMNS)[:1])
        if found:
            return AppPage(_list_items(found, with_tags=with_tags), page=1, limit=1, total=1)
        return AppPage(apps=[], page=page, limit=limit, total=0)
    if name:
        apps = _name_contains(apps, name[:NAME_FILTER_PREFIX])
    total = apps.count()
    rows = page_rows(apps.values_list(*_LIST_COLUMNS), page=page, limit=limit, total=total)
    return AppPage(_list_items(rows, with_tags=with_tags), page=page, limit=limit, total=total)


def app_page_for_account(
    account: Account,
    workspace_id: uuid.UUID,
    *,
    page: int,
    limit: int,
    mode: str | None = None,
    name: str | None = None,
    tag: str | None = None,
) -> AppPage:
    """``GET /apps``: the visible apps of a workspace the account belongs to, newest first.

    Filters combine; a ``name`` that is a UUID still honours ``mode`` and ``tag``.
    """
    if not is_member(account, workspace_id):
        raise ApiError(403, WORKSPACE_MEMBERSHIP_REVOKED)
    apps = _list_order(apps_servable().filter(workspace_id=workspace_id))
    if mode:
        apps = apps.filter(mode=mode)
    if tag:
        # Tag names are unique per workspace, so this join never repeats an app.
        apps = apps.filter(tags__workspace_id=workspace_id, tags__name=tag)
    return _page(apps, page=page, limit=limit, name=name, with_tags=True)


def app_page_permitted_external(
    *,
    page: int,
    limit: int,
    mode: str | None = None,
    name: str | None = None,
    provider_id: uuid.UUID | None = None,
) -> AppPage:
    """``GET /permitted-external-apps``: the public / SSO-verified apps the subject may see."""
    apps = _list_order(apps_permitted_external(provider_id))
    if mode:
        apps = apps.filter(mode=mode)
    # External subjects see no workspace-internal tags: not even read.
    return _page(apps, page=page, limit=limit, name=name, with_tags=False)


def _ambiguous_name(apps: list[App], more: int) -> ApiError:
    lines = ["more than one app has this name in the workspace; use the app id instead:"]
    lines.append(f"{'ID':<36}  {'MODE':<13}  NAME")
    lines.extend(f"{app.id!s:<36}  {app.mode:<13}  {app.name}" for app in apps)
    if more > 0:
        lines.append(f"… and {more} more")
    return ApiError(409, "\n".join(lines), code="conflict")


def app_get_for_account(
    account: Account, app_ref: str, *, workspace_id: uuid.UUID | None = None
) -> App:
    """Describe's lookup: a UUID, or an exact name inside ``workspace_id``.

    Membership of the app's workspace is checked before anything else about the app, and every
    failure is the same 404, so an outsider learns nothing (decisions §5).
    """
    app_id = parse_uuid(app_ref)
    if app_id is not None:
        app = _APP_BY_ID.first(app_id)
        if app is None or not is_member(account, app.workspace_id):
            raise ApiError(404, APP_NOT_FOUND)
        if not app.enable_api or app.status != App.Status.NORMAL:
            raise ApiError(404, APP_NOT_FOUND)
        return app

    if workspace_id is None:
        # Not a UUID and no workspace to look a name up in: to a client this is an unknown id
        # (decisions §5: malformed ids are 404); the hint says how a name lookup works.
        raise ApiError(404, APP_NOT_FOUND, hint=WORKSPACE_REQUIRED_FOR_NAME)
    if "\x00" in app_ref or not is_member(account, workspace_id):
        raise ApiError(404, APP_NOT_FOUND)
    named = _with_describe_relations(
        apps_servable().filter(workspace_id=workspace_id, name=app_ref)
    ).order_by("-updated_at", "-id")
    matches = list(named[: AMBIGUOUS_LISTED_MAX + 1])
    if not matches:
        raise ApiError(404, APP_NOT_FOUND)
    if len(matches) > 1:
        more = named.count() - AMBIGUOUS_LISTED_MAX if len(matches) > AMBIGUOUS_LISTED_MAX else 0
        raise _ambiguous_name(matches[:AMBIGUOUS_LISTED_MAX], more)
    return matches[0]


def app_get_permitted_external(app_ref: str, provider_id: uuid.UUID | None = None) -> App:
    """An external subject's describe: a permitted app it may see (``provider_id``), by UUID."""
    app_id = parse_uuid(app_ref)
    app = (
        _with_describe_relations(apps_permitted_external(provider_id).filter(id=app_id)).first()
        if app_id is not None
        else None
    )
    if app is None:
        raise ApiError(404, APP_NOT_FOUND)
    return app


def app_get_for_member(account: Account, app_ref: str) -> tuple[App, Membership]:
    """An app of a workspace the account belongs to, with that membership (for the role).

    Console-side operations (export, dependency check, uploads for a run) see every app of the
    workspace that is not archived, service API on or off; anything else is 404.
    """
    app_id = parse_uuid(app_ref)
    app = (
        App.objects.filter(id=app_id, status=App.Status.NORMAL).select_related("workspace").first()
        if app_id is not None
        else None
    )
    membership = (
        Membership.objects.filter(account=account, workspace_id=app.workspace_id).first()
        if app is not None and account.is_active
        else None
    )
    if app is None or membership is None:
        raise ApiError(404, APP_NOT_FOUND)
    return app, membership


APP_EDITORS_ONLY = "only editors, admins and the owner of the workspace may do this"


def app_get_for_editor(account: Account, app_ref: str) -> tuple[App, Membership]:
    """``app_get_for_member`` for what Dify leaves to editors, admins and the owner (reading an
    app's DSL, its dependency check): a member below editor gets 403 ``no_permission``."""
    app, membership = app_get_for_member(account, app_ref)
    if membership.role not in APP_EDITOR_ROLES:
        raise ApiError(403, APP_EDITORS_ONLY, code="no_permission")
    return app, membership


IMPORT_NOT_FOUND = "import not found"
IMPORT_FORBIDDEN = "only editors, admins and the owner of the workspace may import apps"


def import_workspace_for_editor(account: Account, workspace_id: uuid.UUID) -> Workspace:
    """The workspace an import goes to: a non-member gets 404, a member below editor 403."""
    membership = (
        Membership.objects.filter(account=account, workspace_id=workspace_id)
        .select_related("workspace")
        .first()
    )
    if membership is None or not account.is_active:
        raise ApiError(404, WORKSPACE_NOT_FOUND)
    if membership.role not in APP_EDITOR_ROLES:
        raise ApiError(403, IMPORT_FORBIDDEN, code="no_permission")
    if membership.workspace.status != Workspace.Status.NORMAL:
        raise ApiError(403, "the workspace is archived", code="workspace_archived")
    return membership.workspace


def import_pending_for_account(
    account: Account, workspace_id: uuid.UUID, import_id: uuid.UUID
) -> AppImport:
    """The caller's own live pending import in a workspace they may import to; else 404."""
    workspace = import_workspace_for_editor(account, workspace_id)
    record = (
        AppImport.objects.filter(
            id=import_id, workspace=workspace, account=account, status=AppImport.Status.PENDING
        )
        .select_related("workspace")
        .first()
    )
    if record is None or record.is_expired:
        raise ApiError(404, IMPORT_NOT_FOUND)
    return record
