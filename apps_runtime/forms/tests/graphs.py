"""Workflow apps with human-input nodes, built for a test and imported as DSL (as a user would).

Each builder returns the DSL document; ``import_app`` imports (and so publishes) it.
"""

from __future__ import annotations

from typing import Any

import yaml


def node(node_id: str, data: dict[str, Any]) -> dict[str, Any]:
    return {"id": node_id, "type": "custom", "data": {"desc": "", **data}}


def edge(source: str, handle: str, target: str) -> dict[str, Any]:
    return {
        "id": f"{source}-{handle}-{target}-target",
        "source": source,
        "sourceHandle": handle,
        "target": target,
        "targetHandle": "target",
        "type": "custom",
    }


def start(*names: str) -> dict[str, Any]:
    return node(
        "start",
        {
            "type": "start",
            "title": "Start",
            "variables": [
                {
                    "variable": name,
                    "label": name,
                    "type": "text-input",
                    "required": True,
                    "max_length": 256,
                    "options": [],
                }
                for name in names
            ],
        },
    )


def end(node_id: str, title: str, **outputs: list[str]) -> dict[str, Any]:
    return node(
        node_id,
        {
            "type": "end",
            "title": title,
            "outputs": [
                {"variable": name, "value_selector": selector, "value_type": "string"}
                for name, selector in outputs.items()
            ],
        },
    )


def human_input(
    node_id: str,
    title: str,
    content: str,
    actions: list[str],
    *,
    fields: tuple[str, ...] = (),
    defaults: dict[str, Any] | None = None,
    delivery: list[dict[str, Any]] | None = None,
    timeout: int = 1,
    unit: str = "hour",
) -> dict[str, Any]:
    defaults = defaults or {}
    return node(
        node_id,
        {
            "type": "human-input",
            "title": title,
            "form_content": content,
            "inputs": [
                {
                    "type": "paragraph",
                    "output_variable_name": name,
                    "default": defaults.get(name)
                    or {"type": "constant", "selector": [], "value": ""},
                }
                for name in fields
            ],
            "user_actions": [
                {"id": action, "title": action.title(), "button_style": "default"}
                for action in actions
            ],
            "delivery_methods": delivery or [{"id": "w", "enabled": True, "type": "webapp"}],
            "timeout": timeout,
            "timeout_unit": unit,
        },
    )


def email_delivery(**config: Any) -> list[dict[str, Any]]:
    return [{"id": "e", "enabled": True, "type": "email", "config": config}]


def workflow(name: str, nodes: list[dict[str, Any]], edges: list[dict[str, Any]]) -> str:
    return yaml.safe_dump(
        {
            "kind": "app",
            "version": "0.6.0",
            "app": {"name": name, "mode": "workflow", "description": name},
            "workflow": {
                "graph": {"nodes": nodes, "edges": edges},
                "features": {},
                "environment_variables": [],
                "conversation_variables": [],
            },
        },
        sort_keys=False,
    )


def import_app(workspace: Any, yaml_text: str) -> Any:
    from accounts.audit import Actor
    from apps_runtime.services import app_import_dsl

    result = app_import_dsl(workspace=workspace, yaml_text=yaml_text, actor=Actor.system("test"))
    assert result.warnings == [], result.warnings
    return result.app


def review_app(workspace: Any, *, timeout_edge: bool = True, timeout: int = 1) -> Any:
    """start(subject) → review (approve / reject / escalate, a ``note`` field) → one end each."""
    review = human_input(
        "review",
        "Review it",
        "Check {{#start.subject#}} and say why: {{#$output.note#}}",
        ["approve", "reject", "escalate"],
        fields=("note",),
        defaults={"note": {"type": "variable", "selector": ["start", "subject"], "value": ""}},
        timeout=timeout,
    )
    nodes = [start("subject"), review]
    edges = [edge("start", "source", "review")]
    for action in ("approve", "reject", "escalate"):
        nodes.append(
            end(
                f"end_{action}",
                f"Ended by {action}",
                decision=["review", "__action_id"],
                note=["review", "note"],
                branch=["start", "subject"],
            )
        )
        edges.append(edge("review", action, f"end_{action}"))
    if timeout_edge:
        nodes.append(end("end_timeout", "Nobody answered", decision=["review", "__action_id"]))
        edges.append(edge("review", "__timeout", "end_timeout"))
    return import_app(workspace, workflow("Review It", nodes, edges))


def serial_app(workspace: Any) -> Any:
    """start → first (go) → second (go / stop) → end: two forms one after the other."""
    nodes = [
        start("subject"),
        human_input("first", "First", "First look at {{#start.subject#}}", ["go"]),
        human_input(
            "second",
            "Second",
            "Second look ({{#first.__action_id#}}) {{#$output.why#}}",
            ["go", "stop"],
            fields=("why",),
        ),
        end(
            "done",
            "Done",
            first=["first", "__action_id"],
            second=["second", "__action_id"],
            why=["second", "why"],
        ),
    ]
    edges = [
        edge("start", "source", "first"),
        edge("first", "go", "second"),
        edge("second", "go", "done"),
        edge("second", "stop", "done"),
    ]
    return import_app(workspace, workflow("Two Looks", nodes, edges))


def emailed_app(workspace: Any) -> Any:
    nodes = [
        start("subject"),
        human_input(
            "review",
            "Mailed review",
            "Please look at {{#start.subject#}}: {{#$output.remarks#}}",
            ["accept", "decline"],
            fields=("remarks",),
            delivery=email_delivery(
                recipients={"whole_workspace": True, "items": []},
                subject="Review {{#start.subject#}}",
                body="Answer at {{#url#}}",
            ),
        ),
        end(
            "done",
            "Done",
            decision=["review", "__action_id"],
            remarks=["review", "remarks"],
        ),
    ]
    edges = [
        edge("start", "source", "review"),
        edge("review", "accept", "done"),
        edge("review", "decline", "done"),
    ]
    return import_app(workspace, workflow("Mailed Review", nodes, edges))


def chatflow_app(workspace: Any) -> Any:
    """advanced-chat: start → review (ok / no, a ``note``) → answer."""
    nodes = [
        start(),
        human_input(
            "review",
            "Check the question",
            "Answer {{#sys.query#}}? {{#$output.note#}}",
            ["ok", "no"],
            fields=("note",),
        ),
        node(
            "answer",
            {
                "type": "answer",
                "title": "Answer",
                "answer": "You said {{#review.__action_id#}}: {{#review.note#}}",
            },
        ),
    ]
    edges = [
        edge("start", "source", "review"),
        edge("review", "ok", "answer"),
        edge("review", "no", "answer"),
    ]
    text = workflow("Checked Chat", nodes, edges).replace("mode: workflow", "mode: advanced-chat")
    return import_app(workspace, text)
