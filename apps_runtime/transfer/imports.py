"""DSL import as one service for the API, ``manage.py import_dsl`` and the admin upload.

Every import leaves an :class:`AppImport` row with its outcome (the admin lists them):

- ``completed`` / ``completed-with-warnings`` (the file imported; warnings name what the engine or
  the version check noticed) with the new (or overwritten) app;
- ``failed`` with ``error`` naming the problem, nothing else written;
- ``pending`` when the file's DSL version is newer than ours, or of another major version
  (dsl.md §1.2): the YAML is kept until ``DSL_IMPORT_PENDING_SECONDS`` pass, and only a confirm by
  the same account imports it as is. Housekeeping drops the YAML of expired pending imports.

``yaml-url`` sources are fetched with the SSRF-safe outbound client (no private, loopback or
link-local address, also after a redirect) and capped at ``DSL_IMPORT_MAX_BYTES``.
"""

from __future__ import annotations

import dataclasses
import re
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.audit import Actor, audit_record
from accounts.models import Account
from apps_runtime.dsl import DslError, ParsedDsl, dsl_load, dsl_parse
from apps_runtime.dsl.constants import CURRENT_DSL_VERSION
from apps_runtime.dsl.version import version_outcome
from apps_runtime.models import WORKFLOW_MODES, App, AppImport
from apps_runtime.services import app_import_parsed, app_overwrite_parsed
from config.api.errors import RateLimited
from config.leases import Lease, lease_release, lease_take
from workspaces.models import Workspace

_GITHUB_BLOB = re.compile(r"^https://github\.com/([^/]+)/([^/]+)/blob/(.+)$")


@dataclass(frozen=True)
class ImportOptions:
    """What the caller may set over the file's ``app`` block, and an app to overwrite."""

    name: str | None = None
    description: str | None = None
    icon_type: str | None = None
    icon: str | None = None
    icon_background: str | None = None
    app_id: uuid.UUID | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            key: (str(value) if isinstance(value, uuid.UUID) else value)
            for key, value in dataclasses.asdict(self).items()
            if value is not None
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ImportOptions:
        known = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in (data or {}).items() if k in known}
        if values.get("app_id"):
            values["app_id"] = uuid.UUID(str(values["app_id"]))
        return cls(**values)


@dataclass(frozen=True)
class Importer:
    """Who imports: the audit actor, and the account (API callers) that owns the import."""

    actor: Actor
    account: Account | None = None
    token_id: uuid.UUID | None = None
    ip: str = ""


class YamlUrlError(Exception):
    """The ``yaml_url`` could not be fetched; the message is safe to show."""


TOO_MANY_URL_IMPORTS = "too many yaml-url imports in progress; try again shortly"


def _url_fetch_slot() -> Lease | None:
    """One of ``DSL_IMPORT_URL_CONCURRENCY`` fetch slots shared by every web process, held for
    at most the outbound deadline (plus a margin: a killed worker's slot frees itself); 429
    when all are held. A fetch waits on a remote server for up to the deadline, so without the
    cap a few slow sources would hold every WSGI worker and the whole JSON API with them. The
    cache down: allowed (logged), like the stream slots."""
    prefix = f"{settings.RATE_LIMIT_KEY_PREFIX}:yaml-url-fetch"
    keys = [f"{prefix}:{index}" for index in range(settings.DSL_IMPORT_URL_CONCURRENCY)]
    lease = settings.OUTBOUND_DEADLINE_SECONDS + 5
    try:
        slot = lease_take(keys, lease)
    except Exception as exc:  # cache backends' connection errors share no base class
        from config.api.ratelimit import log_outage

        log_outage("yaml-url-imports", exc, fail_open=True)
        return None
    if slot is None:
        raise RateLimited(5, hint=TOO_MANY_URL_IMPORTS)
    return slot


def yaml_url_fetch(url: str) -> bytes:
    """The body at ``url`` under the outbound rules, at most ``DSL_IMPORT_MAX_BYTES``; 429 while
    ``DSL_IMPORT_URL_CONCURRENCY`` other fetches are in progress."""
    from apps_runtime.engine.outbound import OutboundError, OutboundTooLarge, fetch

    match = _GITHUB_BLOB.match(url.strip())
    if match:  # a GitHub page of a file: fetch the raw file instead (as Dify does)
        owner, repo, rest = match.groups()
        url = f"https://raw.githubusercontent.com/{owner}/{repo}/{rest}"
    slot = _url_fetch_slot()
    try:
        response = fetch("GET", url, max_bytes=settings.DSL_IMPORT_MAX_BYTES)
    except OutboundTooLarge:
        raise YamlUrlError(
            f"the file at yaml_url is larger than {settings.DSL_IMPORT_MAX_BYTES} bytes"
        ) from None
    except OutboundError as exc:
        raise YamlUrlError(f"cannot fetch yaml_url: {exc}") from None
    finally:
        lease_release(slot)
    if response.status_code != 200:
        raise YamlUrlError(f"cannot fetch yaml_url: the server answered {response.status_code}")
    return response.content


def _apply_options(parsed: ParsedDsl, options: ImportOptions) -> ParsedDsl:
    changes = {
        key: value
        for key in ("description", "icon_type", "icon", "icon_background")
        if (value := getattr(options, key)) is not None
    }
    return dataclasses.replace(parsed, **changes) if changes else parsed


def _file_version(text: str | bytes) -> tuple[str, str]:
    """(outcome, version) of the file's ``version`` without the rest of the parse."""
    document = dsl_load(text)
    raw = document.get("version") if isinstance(document, dict) else None
    return version_outcome(raw)


def dsl_import(
    *,
    workspace: Workspace,
    yaml_text: str | bytes,
    importer: Importer,
    options: ImportOptions | None = None,
    source: str = AppImport.Source.YAML_CONTENT,
    yaml_url: str = "",
) -> AppImport:
    """Import (or park as ``pending``) one DSL file; the returned row says what happened."""
    options = options or ImportOptions()
    now = timezone.now()
    record = AppImport(
        workspace=workspace,
        account=importer.account,
        source=source,
        yaml_url=yaml_url[:2000],
        options=options.as_json(),
        current_dsl_version=CURRENT_DSL_VERSION,
        created_at=now,
    )
    try:
        outcome, version = _file_version(yaml_text)
    except DslError as exc:
        return _finish_failed(record, exc.message, importer)
    record.imported_dsl_version = version
    if outcome == "pending":
        text = yaml_text.decode("utf-8-sig") if isinstance(yaml_text, bytes) else yaml_text
        record.status = AppImport.Status.PENDING
        record.yaml_content = text
        record.expires_at = now + timedelta(seconds=settings.DSL_IMPORT_PENDING_SECONDS)
        with transaction.atomic():
            record.save()
            _audit("app_import.pending", importer, record)
        return record
    return _import_now(record, yaml_text, options, importer, confirmed=False)


def dsl_import_failed(
    *,
    workspace: Workspace,
    importer: Importer,
    error: str,
    source: str,
    yaml_url: str = "",
    options: ImportOptions | None = None,
) -> AppImport:
    """Record an import that failed before there was a file (a ``yaml_url`` that cannot be
    fetched)."""
    record = AppImport(
        workspace=workspace,
        account=importer.account,
        source=source,
        yaml_url=yaml_url[:2000],
        options=(options or ImportOptions()).as_json(),
        current_dsl_version=CURRENT_DSL_VERSION,
        created_at=timezone.now(),
    )
    return _finish_failed(record, error, importer)


def dsl_import_confirm(*, record: AppImport, importer: Importer) -> AppImport:
    """Import a ``pending`` file as is. The caller has checked that ``record`` is the actor's own
    live pending import (``import_pending_for_account``)."""
    with transaction.atomic():
        # The row lock makes a second, concurrent confirm wait and then find it no longer pending.
        locked = AppImport.objects.select_for_update().get(pk=record.pk)
        if locked.status != AppImport.Status.PENDING or locked.is_expired:
            raise DslError("the import is no longer pending")
        options = ImportOptions.from_json(locked.options)
        return _import_now(locked, locked.yaml_content, options, importer, confirmed=True)


def _import_now(
    record: AppImport,
    yaml_text: str | bytes,
    options: ImportOptions,
    importer: Importer,
    *,
    confirmed: bool,
) -> AppImport:
    try:
        parsed = _apply_options(dsl_parse(yaml_text, allow_newer=confirmed), options)
        record.app_mode = parsed.mode
        record.imported_dsl_version = parsed.version
        with transaction.atomic():
            if options.app_id is not None:
                target = _overwrite_target(record.workspace, options.app_id, parsed)
                result = app_overwrite_parsed(
                    app=target,
                    parsed=parsed,
                    name=options.name,
                    actor=importer.actor,
                )
            else:
                result = app_import_parsed(
                    workspace=record.workspace,
                    parsed=parsed,
                    name=options.name,
                    author=importer.account,
                    actor=importer.actor,
                )
            record.app = result.app
            record.warnings = list(result.warnings)
            record.status = (
                AppImport.Status.COMPLETED_WITH_WARNINGS
                if result.warnings
                else AppImport.Status.COMPLETED
            )
            record.error = ""
            record.yaml_content = ""
            record.expires_at = None
            record.save()
    except DslError as exc:
        return _finish_failed(record, exc.message, importer)
    return record


def _overwrite_target(workspace: Workspace, app_id: uuid.UUID, parsed: ParsedDsl) -> App:
    app = (
        App.objects.select_for_update()
        .filter(pk=app_id, workspace=workspace, status=App.Status.NORMAL)
        .first()
    )
    if app is None:
        raise DslError("app_id names no app of this workspace")
    if app.mode not in WORKFLOW_MODES:
        raise DslError("only workflow and advanced-chat apps can be overwritten")
    if app.mode != parsed.mode:
        raise DslError(f"app mode mismatch: the app is {app.mode}, the file is {parsed.mode}")
    return app


def _finish_failed(record: AppImport, message: str, importer: Importer) -> AppImport:
    record.status = AppImport.Status.FAILED
    record.error = message[:2000]
    record.yaml_content = ""
    record.expires_at = None
    record.app = None
    with transaction.atomic():
        record.save()
        _audit("app_import.failed", importer, record, error=record.error)
    return record


def _audit(action: str, importer: Importer, record: AppImport, **details: Any) -> None:
    audit_record(
        action,
        actor=importer.actor,
        account=importer.account,
        token_id=importer.token_id,
        ip=importer.ip,
        import_id=record.id,
        workspace_id=record.workspace_id,
        imported_dsl_version=record.imported_dsl_version,
        **details,
    )


def import_pending_expire() -> int:
    """Housekeeping: drop the kept YAML of pending imports past their expiry."""
    overdue = AppImport.objects.filter(
        status=AppImport.Status.PENDING, expires_at__lte=timezone.now()
    )
    return overdue.update(
        status=AppImport.Status.FAILED,
        yaml_content="",
        error="the pending import expired before it was confirmed",
    )
