"""Write an app back as Dify DSL YAML (dsl.md §1): the stored blocks plus every kept extra key.

``yaml.safe_dump`` with sorted keys and unicode kept, as Dify's own export writes it. The output
imports back to an equal app.
"""

from __future__ import annotations

import copy
from typing import Any

import yaml

from apps_runtime.dsl.constants import CURRENT_DSL_VERSION
from apps_runtime.dsl.errors import DslError
from apps_runtime.env_secrets import unseal_secret_values
from apps_runtime.models import WORKFLOW_MODES, App, AppModelConfig, WorkflowVersion


def app_export_dsl(
    app: App, *, workflow: WorkflowVersion | None = None, include_secrets: bool = False
) -> str:
    """The app as DSL YAML.

    Workflow apps export the draft (as Dify does), or the published version when there is no
    draft, or ``workflow`` when given (it must belong to the app). Values of ``secret`` environment
    variables are blanked unless ``include_secrets``.
    """
    return dsl_dump(app_export_data(app, workflow=workflow, include_secrets=include_secrets))


class _Dumper(yaml.SafeDumper):
    """Never writes anchors and aliases: a value used twice is written twice, as Dify does."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def dsl_dump(data: dict[str, Any]) -> str:
    return yaml.dump(data, Dumper=_Dumper, allow_unicode=True, sort_keys=True)


def app_export_data(
    app: App, *, workflow: WorkflowVersion | None = None, include_secrets: bool = False
) -> dict[str, Any]:
    extra = copy.deepcopy(app.dsl_extra) if isinstance(app.dsl_extra, dict) else {}
    app_extra = extra.pop("app", None)
    data: dict[str, Any] = extra
    data["kind"] = "app"
    data.setdefault("version", CURRENT_DSL_VERSION)
    data.setdefault("dependencies", [])
    app_block: dict[str, Any] = dict(app_extra) if isinstance(app_extra, dict) else {}
    app_block.setdefault("use_icon_as_answer_icon", False)
    app_block.update(
        name=app.name,
        mode=app.mode,
        description=app.description,
        icon=app.icon,
        icon_type=app.icon_type,
        icon_background=app.icon_background,
    )
    data["app"] = app_block
    if app.mode in WORKFLOW_MODES:
        version = workflow or _export_version(app)
        if version.app_id != app.id:
            raise DslError(f"workflow version {version.id} does not belong to app {app.id}")
        data["workflow"] = _workflow_block(version, include_secrets=include_secrets)
    else:
        config = AppModelConfig.objects.filter(app=app).first()
        data["model_config"] = copy.deepcopy(config.config) if config is not None else {}
    return data


def _export_version(app: App) -> WorkflowVersion:
    version = (
        WorkflowVersion.objects.filter(app=app, version=WorkflowVersion.DRAFT).first()
        or app.published_workflow
        or WorkflowVersion.objects.filter(app=app).order_by("-created_at").first()
    )
    if version is None:
        raise DslError(f"app {app.id} has no workflow to export")
    return version


def _workflow_block(version: WorkflowVersion, *, include_secrets: bool) -> dict[str, Any]:
    block: dict[str, Any] = copy.deepcopy(version.extra) if isinstance(version.extra, dict) else {}
    environment = copy.deepcopy(version.environment_variables or [])
    if include_secrets:
        try:
            environment = unseal_secret_values(environment)
        except ValueError as exc:
            raise DslError(f"cannot export secrets: {exc}") from None
    else:
        for variable in environment:
            if isinstance(variable, dict) and variable.get("value_type") == "secret":
                variable["value"] = ""
    block.update(
        graph=copy.deepcopy(version.graph),
        features=copy.deepcopy(version.features),
        environment_variables=environment,
        conversation_variables=copy.deepcopy(version.conversation_variables or []),
    )
    return block
