"""Writes on the app catalog: DSL import, publishing, service-API switch, access mode, tags.

Each service owns its transaction and leaves an audit record naming the actor.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts.audit import Actor, audit_record
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
    actor: Actor,
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
        actor=actor,
    )


def app_import_parsed(
    *,
    workspace: Workspace,
    parsed: ParsedDsl,
    name: str | None = None,
    author: Account | None = None,
    actor: Actor,
) -> ImportResult:
    """``app_import_dsl`` for a file already parsed with ``dsl_parse``."""
    warnings = [*parsed.warnings, *tool_provider_warnings(workspace.id, parsed)]
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
            "app.imported",
            actor=actor,
            account=author,
            app_id=app.id,
            workspace_id=workspace.id,
            mode=app.mode,
            dsl_version=parsed.version,
            warnings=warnings,
        )
    return ImportResult(app=app, warnings=warnings)


def tool_provider_warnings(workspace_id: Any, parsed: ParsedDsl) -> list[str]:
    """Warnings naming the tool providers the DSL uses that the workspace does not have, and
    the agent strategies this server cannot run."""
    from apps_runtime.engine.nodes.agent import unrunnable_agent_strategies
    from apps_runtime.tools.registry import missing_providers, tool_entries

    graph = parsed.workflow.graph if parsed.workflow is not None else None
    entries = tool_entries(mode=parsed.mode, graph=graph, model_config=parsed.model_config)
    warnings: list[str] = []
    missing = missing_providers(workspace_id, entries)
    if missing:
        warnings.append(
            "the workspace has no tool provider(s) "
            + ", ".join(missing)
            + "; runs of this app answer app_unavailable until they are added in the admin"
        )
    strategies = unrunnable_agent_strategies(graph or {})
    if strategies:
        warnings.append(
            "the engine cannot run agent strategy(ies) "
            + ", ".join(strategies)
            + "; runs of this app answer app_unavailable"
        )
    return warnings


def app_overwrite_parsed(
    *, app: App, parsed: ParsedDsl, name: str | None = None, actor: Actor
) -> ImportResult:
    """Overwrite a workflow / advanced-chat app from a file of the same mode, as Dify's console
    does: the app's fields and its **draft** change; the published version stays until published.
    The caller has locked ``app`` and checked the mode."""
    block = parsed.workflow
    if block is None or app.mode != parsed.mode:
        raise DslError(f"app mode mismatch: the app is {app.mode}, the file is {parsed.mode}")
    warnings = [*parsed.warnings, *tool_provider_warnings(app.workspace_id, parsed)]
    app_name = (name if name is not None and name.strip() else parsed.name).strip() or app.name
    if len(app_name) > 255:
        raise DslError("the app name is longer than 255 characters")
    now = timezone.now()
    with transaction.atomic():
        app.name = app_name
        app.description = parsed.description
        app.icon = parsed.icon
        app.icon_type = parsed.icon_type
        app.icon_background = parsed.icon_background
        app.dsl_extra = parsed.dsl_extra
        app.updated_at = now
        app.save()
        WorkflowVersion.objects.filter(app=app, version=WorkflowVersion.DRAFT).delete()
        draft = _create_version(app, parsed, version=WorkflowVersion.DRAFT, now=now)
        audit_record(
            "app.overwritten",
            actor=actor,
            app_id=app.id,
            workspace_id=app.workspace_id,
            draft_id=draft.id,
            dsl_version=parsed.version,
            warnings=warnings,
        )
    return ImportResult(app=app, warnings=warnings)


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


def workflow_publish_draft(*, draft: WorkflowVersion, actor: Actor) -> WorkflowVersion:
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
            "workflow.published",
            actor=actor,
            app_id=app.id,
            workflow_id=published.id,
            draft_id=draft.id,
        )
    return published


# What an app edit may change (the admin's change form; later the API). Mode and workspace are
# fixed at import.
APP_EDITABLE = (
    "name",
    "description",
    "author",
    "icon",
    "icon_type",
    "icon_background",
    "enable_api",
    "status",
    "access_mode",
    "tags",
)


def app_update(*, app: App, changes: dict[str, Any], actor: Actor) -> bool:
    """Change fields of an app in one transaction with one ``app.updated`` record listing each
    change (before/after). ``tags`` is a list of the workspace's tags. True when anything changed.
    """
    unknown = set(changes) - set(APP_EDITABLE)
    if unknown:
        raise ValueError(f"not editable: {', '.join(sorted(unknown))}")
    if "access_mode" in changes:
        if changes["access_mode"] not in App.AccessMode.values:
            raise ValueError(f"unknown access mode {changes['access_mode']!r}")
        changes = {**changes, "access_mode": App.AccessMode(changes["access_mode"]).value}
    with transaction.atomic():
        locked = App.objects.select_for_update().get(pk=app.pk)
        diff: dict[str, dict[str, Any]] = {}
        for name, value in changes.items():
            if name == "tags":
                before_tags = sorted(tag.name for tag in locked.tags.all())
                tags = list(value)
                if any(tag.workspace_id != locked.workspace_id for tag in tags):
                    raise ValueError("a tag of another workspace")
                if sorted(tag.name for tag in tags) != before_tags:
                    locked.tags.set(tags)
                    diff["tags"] = {"before": before_tags, "after": sorted(t.name for t in tags)}
                continue
            before = getattr(locked, name)
            if before != value:
                setattr(locked, name, value)
                diff[name] = {"before": _audit_value(before), "after": _audit_value(value)}
        if not diff:
            return False
        locked.updated_at = timezone.now()
        locked.save(update_fields=[*(name for name in diff if name != "tags"), "updated_at"])
        audit_record("app.updated", actor=actor, app_id=locked.id, changes=diff)
    for name in diff:
        if name != "tags":
            setattr(app, name, getattr(locked, name))
    app.updated_at = locked.updated_at
    return True


def _audit_value(value: Any) -> Any:
    # A model instance (the author) is recorded by its primary key.
    return getattr(value, "pk", value)


def app_set_enable_api(*, app: App, enabled: bool, actor: Actor) -> bool:
    """Switch the app's service API; True when it changed."""
    return app_update(app=app, changes={"enable_api": enabled}, actor=actor)


def app_set_access_mode(*, app: App, access_mode: str, actor: Actor) -> bool:
    """Set who may reach the app from /permitted-external-apps; True when it changed."""
    return app_update(app=app, changes={"access_mode": access_mode}, actor=actor)


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


def tag_save(tag: Tag, *, actor: Actor) -> None:
    """Create ``tag`` (unsaved) or save its new name/workspace; one audit record either way."""
    with transaction.atomic():
        created = tag._state.adding
        before = None if created else Tag.objects.select_for_update().get(pk=tag.pk)
        tag.save()
        if created:
            audit_record("tag.created", actor=actor, tag_id=tag.id, name=tag.name)
            return
        assert before is not None
        changes = {
            name: {"before": str(getattr(before, name)), "after": str(getattr(tag, name))}
            for name in ("name", "workspace_id")
            if getattr(before, name) != getattr(tag, name)
        }
        if changes:
            audit_record("tag.updated", actor=actor, tag_id=tag.id, changes=changes)


def tags_delete(tags: Iterable[Tag], *, actor: Actor) -> int:
    """Delete tags (their apps lose the tag); one audit record per tag."""
    count = 0
    with transaction.atomic():
        for tag in tags:
            tag_id, name = tag.id, tag.name
            tag.delete()
            audit_record("tag.deleted", actor=actor, tag_id=tag_id, name=name)
            count += 1
    return count
