"""Shared pieces of the tool tests: an OpenAPI schema for a local service, providers, DSLs."""

from __future__ import annotations

import json
from typing import Any

import yaml

from accounts.audit import Actor
from apps_runtime.dsl import dsl_parse
from apps_runtime.engine.tests.enginehost import edge, graph, node
from apps_runtime.engine.tests.httpserver import LocalServer, Recorded, Reply
from apps_runtime.services import app_import_parsed
from apps_runtime.tools.models import ToolProvider
from apps_runtime.tools.services import tool_provider_save


def pets_schema(server: str) -> str:
    """YAML: getPet (path id + query verbose + header X-Trace) and addPet (JSON body via $ref)."""
    document = {
        "openapi": "3.0.3",
        "info": {"title": "Pets", "version": "1"},
        "servers": [{"url": server}],
        "components": {
            "schemas": {
                "NewPet": {
                    "type": "object",
                    "properties": {
                        "name": {"type": "string"},
                        "age": {"type": "integer", "minimum": 0},
                    },
                    "required": ["name"],
                }
            },
            "parameters": {
                "Trace": {"name": "X-Trace", "in": "header", "schema": {"type": "string"}}
            },
        },
        "paths": {
            "/pets/{pet_id}": {
                "get": {
                    "operationId": "getPet",
                    "summary": "Get a pet by id",
                    "parameters": [
                        {"name": "pet_id", "in": "path", "schema": {"type": "integer"}},
                        {"name": "verbose", "in": "query", "schema": {"type": "boolean"}},
                        {"$ref": "#/components/parameters/Trace"},
                    ],
                }
            },
            "/pets": {
                "post": {
                    "operationId": "addPet",
                    "description": "Add a pet",
                    "requestBody": {
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/NewPet"}}
                        }
                    },
                }
            },
        },
    }
    return yaml.safe_dump(document)


def serve_pets(server: LocalServer) -> None:
    def get_pet(req: Recorded) -> Reply:
        pet_id = req.path.split("?")[0].rsplit("/", 1)[-1]
        body = {"id": int(pet_id), "name": f"pet-{pet_id}", "species": "cat"}
        return Reply(200, json.dumps(body).encode(), {"Content-Type": "application/json"})

    def add_pet(req: Recorded) -> Reply:
        sent = json.loads(req.body or b"{}")
        return Reply(
            201, json.dumps({"created": sent}).encode(), {"Content-Type": "application/json"}
        )

    for pet_id in range(1, 10):
        server.route(f"/pets/{pet_id}", get_pet)
    server.route("/pets", add_pet)


def api_provider(
    workspace: Any,
    server: LocalServer,
    *,
    name: str = "pets",
    auth_type: str = "none",
    auth_key_name: str = "",
    secret: str | None = None,
) -> ToolProvider:
    provider = ToolProvider(
        workspace=workspace,
        kind=ToolProvider.Kind.API,
        name=name,
        schema=pets_schema(server.base),
        auth_type=auth_type,
        auth_key_name=auth_key_name,
    )
    return tool_provider_save(provider, secret=secret, actor=Actor.system("test"))


def workflow_dsl(nodes: list[dict[str, Any]], edges: list[dict[str, Any]], **extra: Any) -> str:
    document = {
        "app": {"name": "Tools workflow", "mode": "workflow", "icon": "🛠"},
        "kind": "app",
        "version": "0.6.0",
        "workflow": {
            "graph": graph(nodes, edges),
            "features": {},
            "environment_variables": [],
            "conversation_variables": [],
        },
        **extra,
    }
    return yaml.safe_dump(document, allow_unicode=True)


def import_dsl(workspace: Any, author: Any, text: str) -> Any:
    return app_import_parsed(
        workspace=workspace, parsed=dsl_parse(text), author=author, actor=Actor.system("test")
    )


def agent_dsl(strategy: str = "function_call") -> str:
    return yaml.safe_dump(
        {
            "app": {"name": "Pet agent", "mode": "agent-chat", "icon": "🐈"},
            "kind": "app",
            "version": "0.6.0",
            "model_config": {
                "pre_prompt": "You answer questions about pets.",
                "model": {
                    "provider": "langgenius/openai_api_compatible/openai_api_compatible",
                    "name": "local-model",
                    "mode": "chat",
                    "completion_params": {"temperature": 0},
                },
                "user_input_form": [],
                "agent_mode": {
                    "enabled": True,
                    "strategy": strategy,
                    "max_iteration": 3,
                    "tools": [
                        {
                            "enabled": True,
                            "provider_type": "api",
                            "provider_id": "3f1c0c1e-0000-4000-8000-000000000000",
                            "provider_name": "pets",
                            "tool_name": "getPet",
                            "tool_label": "Get pet",
                            "tool_parameters": {},
                        }
                    ],
                },
            },
        }
    )


def time_node(node_id: str = "now", **data: Any) -> dict[str, Any]:
    return node(
        node_id,
        "tool",
        provider_id="langgenius/time/time",
        provider_type="builtin",
        provider_name="time",
        tool_name="current_time",
        **data,
    )


__all__ = ["edge", "graph", "node"]
