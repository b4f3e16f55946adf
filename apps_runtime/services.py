"""Writes on the app catalog: DSL import, publishing, service-API switch, access mode, tags.

Each service owns its transaction and leaves an audit record naming the actor.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from django.db import transaction
from django.utils import timezone

from accounts.audit import audit_record
from accounts.models import Account
from apps_runtime.dsl import DslError, ParsedDsl, dsl_parse, validate_graph
from apps_runtime.env_secrets import seal_secret_values
from apps_runtime.models import App, AppModelConfig, Tag, WorkflowVersion
from workspaces.models import Workspace


@dataclass(frozen=True)
class ImportResult:
    app: App
    warnings: list[str] = field(default_factory=list)


class PublishError(Exception):
    """A workflow version cannot be published; the message says why."""


def app_import_dsl(
    *,
    workspace: Workspace,
    yaml_text: str | bytes,
    name: str | None = None,
    author: Account | None = None,
    actor_type: str = "system",
    actor_email: str = "",
) -> ImportResult:
    """Create an app from a DSL file, in one transaction (a failure leaves nothing behind).

    Prompt-based apps get their ``model_config``; workflow apps get a published version (importing
    publishes) and a draft copy, and ``published_workflow`` points at the published one.
    Raises DslError naming the problem.
    """
    return app_import_parsed(
        workspace=workspace,
        parsed=dsl_parse(yaml_text),
        name=name,
        author=author,
        actor_type=actor_type,
        actor_email=actor_email,
    )


def app_import_parsed(
    *,
    workspace: Workspace,
    parsed: ParsedDsl,
    name: str | None = None,
    author: Account | None = None,
    actor_type: str = "system",
    actor_email: str = "",
) -> ImportResult:
    """``app_import_dsl`` for a file already parsed with ``dsl_parse``."""
    app_name = (name if name is not None and name.strip() else parsed.name).strip()
    if not app_name:
        raise DslError("the app has no name: set app.name in the file or pass a name")
    if len(app_name) > 255:
        raise DslError("the app name is longer than 255 characters")
    now = timezone.now()
    with transaction.atomic():
        app = App.objects.create(
            workspace=workspace,
            name=app_name,
            description=parsed.description,
            mode=parsed.mode,
            icon=parsed.icon,
            icon_type=parsed.icon_type,
            icon_background=parsed.icon_background,
            author=author,
            dsl_extra=parsed.dsl_extra,
            created_at=now,
            updated_at=now,
        )
        if parsed.workflow is not None:
            published = _create_version(app, parsed, version=publication_stamp(now), now=now)
            _create_version(app, parsed, version=WorkflowVersion.DRAFT, now=now)
            app.published_workflow = published
            app.save(update_fields=["published_workflow"])
        else:
            AppModelConfig.objects.create(app=app, config=parsed.model_config or {}, updated_at=now)
        audit_record(
            "app_imported",
            actor_type=actor_type,
            actor_email=actor_email or (author.email if author is not None else ""),
            account=author,
            app_id=app.id,
            workspace_id=workspace.id,
            mode=app.mode,
            dsl_version=parsed.version,
            warnings=parsed.warnings,
        )
    return ImportResult(app=app, warnings=list(parsed.warnings))


def publication_stamp(moment: datetime) -> str:
    """The ``version`` of a published workflow: its UTC publication time, as Dify writes it."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def _create_version(app: App, parsed: ParsedDsl, *, version: str, now: datetime) -> WorkflowVersion:
    block = parsed.workflow
    assert block is not None
    return WorkflowVersion.objects.create(
        app=app,
        version=version,
        graph=block.graph,
        features=block.features,
        environment_variables=seal_secret_values(block.environment_variables),
        conversation_variables=block.conversation_variables,
        extra=block.extra,
        created_at=now,
        published_at=None if version == WorkflowVersion.DRAFT else now,
    )


def workflow_publish_draft(
    *, draft: WorkflowVersion, actor_type: str = "admin", actor_email: str = ""
) -> WorkflowVersion:
    """Publish a draft: a new published copy becomes the app's ``published_workflow``.

    The draft stays as it is (it remains the editable version). A draft whose graph a run could not
    follow (no start, no path to an end/answer) is refused.
    """
    if not draft.is_draft:
        raise PublishError(f"{draft} is already published; only a draft can be published")
    try:
        validate_graph(draft.graph, mode=draft.app.mode)
    except DslError as exc:
        raise PublishError(f"cannot publish {draft}: {exc.message}") from None
    now = timezone.now()
    with transaction.atomic():
        app = App.objects.select_for_update().get(pk=draft.app_id)
        published = WorkflowVersion.objects.create(
            app=app,
            version=publication_stamp(now),
            graph=draft.graph,
            features=draft.features,
            environment_variables=draft.environment_variables,
            conversation_variables=draft.conversation_variables,
            extra=draft.extra,
            created_at=now,
            published_at=now,
        )
        app.published_workflow = published
        app.updated_at = now
        app.save(update_fields=["published_workflow", "updated_at"])
        audit_record(
            "workflow_published",
            actor_type=actor_type,
            actor_email=actor_email,
            app_id=app.id,
            workflow_id=published.id,
            draft_id=draft.id,
        )
    return published


def app_set_enable_api(
    *, app: App, enabled: bool, actor_type: str = "admin", actor_email: str = ""
) -> bool:
    """Switch the app's service API; True when it changed."""
    return _set_field(app, "enable_api", enabled, actor_type=actor_type, actor_email=actor_email)


def app_set_access_mode(
    *, app: App, access_mode: str, actor_type: str = "admin", actor_email: str = ""
) -> bool:
    """Set who may reach the app from /permitted-external-apps; True when it changed."""
    if access_mode not in App.AccessMode.values:
        raise ValueError(f"unknown access mode {access_mode!r}")
    value = App.AccessMode(access_mode).value  # a plain str, also in the audit record
    return _set_field(app, "access_mode", value, actor_type=actor_type, actor_email=actor_email)


def _set_field(app: App, name: str, value: object, *, actor_type: str, actor_email: str) -> bool:
    with transaction.atomic():
        locked = App.objects.select_for_update().get(pk=app.pk)
        before = getattr(locked, name)
        if before == value:
            return False
        setattr(locked, name, value)
        locked.updated_at = timezone.now()
        locked.save(update_fields=[name, "updated_at"])
        audit_record(
            "app_updated",
            actor_type=actor_type,
            actor_email=actor_email,
            app_id=locked.id,
            field=name,
            before=before,
            after=value,
        )
    setattr(app, name, value)
    app.updated_at = locked.updated_at
    return True


def app_add_tags(*, app: App, names: Iterable[str]) -> list[Tag]:
    """Bind the app to tags of its workspace by name, creating missing tags."""
    tags: list[Tag] = []
    with transaction.atomic():
        for raw in names:
            tag_name = raw.strip()
            if not tag_name:
                continue
            tag, _ = Tag.objects.get_or_create(workspace_id=app.workspace_id, name=tag_name)
            tags.append(tag)
        app.tags.add(*tags)
    return tags
