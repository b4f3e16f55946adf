"""An agent-chat app end to end, as ``difyctl run app`` drives it: POST the run with a query,
read ``agent_thought`` / ``agent_message`` / ``message_end``; continue the conversation (the
model sees the earlier tool call and its result); stop inside the streamed answer."""

from __future__ import annotations

import json

import pytest
from asgiref.sync import async_to_sync

from apps_runtime.runs.models import Message, Run
from apps_runtime.runs.tests.helpers import run_path, sse_call
from apps_runtime.runs.tests.streaming import LiveStream
from apps_runtime.tools.models import ToolCallRecord
from apps_runtime.tools.tests.helpers import agent_dsl, api_provider, import_dsl

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def token(alice, token_for, settings):
    settings.OPENAPI_RATE_LIMIT_PER_TOKEN = 0
    return token_for(alice)


@pytest.fixture
def pet_agent(acme, alice, pets):
    api_provider(acme, pets)
    result = import_dsl(acme, alice, agent_dsl())
    assert result.warnings == []
    return result.app


def test_an_agent_app_streams_its_thoughts_and_answer_and_remembers_them(
    pet_agent, token, llm_env, pets
):
    llm_env.answer_tool_calls([("getPet", {"pet_id": 3})], once=True)
    llm_env.answer("Pet 3 is a cat.", chunks=["Pet 3 ", "is a cat."], once=True)
    response = sse_call(
        "POST", run_path(pet_agent), token=token, body={"inputs": {}, "query": "What is pet 3?"}
    )
    assert response.status == 200, response.body[:300]
    assert response.names == [
        "agent_thought",
        "agent_thought",
        "agent_message",
        "agent_message",
        "message_end",
    ]
    decided, observed = response.events[0], response.events[1]
    run = Run.objects.get()
    message = Message.objects.get(run=run)
    for event in response.events:
        assert event["task_id"] == str(run.id)
        assert event["message_id"] == str(message.id)
        assert event["conversation_id"] == str(run.conversation_id)
    assert decided["id"] == observed["id"] and decided["position"] == 1
    assert decided["tool"] == "getPet" and decided["observation"] == ""
    assert json.loads(decided["tool_input"]) == {"getPet": {"pet_id": 3}}
    assert json.loads(json.loads(observed["observation"])["getPet"]) == {
        "id": 3,
        "name": "pet-3",
        "species": "cat",
    }
    assert "".join(e["answer"] for e in response.events if e["event"] == "agent_message") == (
        "Pet 3 is a cat."
    )
    first, second = llm_env.requests
    assert first.body["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "getPet",
                "description": "Get a pet by id",
                "parameters": {
                    "type": "object",
                    "properties": {
                        "pet_id": {"type": "integer"},
                        "verbose": {"type": "boolean"},
                        "X-Trace": {"type": "string"},
                    },
                    "required": ["pet_id"],
                },
            },
        }
    ]
    assert first.body["messages"] == [
        {"role": "system", "content": "You answer questions about pets."},
        {"role": "user", "content": "What is pet 3?"},
    ]
    assert second.body["messages"][-1]["role"] == "tool"
    assert second.body["messages"][-1]["tool_call_id"] == "call_1"
    message.refresh_from_db()
    assert message.answer == "Pet 3 is a cat." and run.status == "succeeded"
    assert [t["tool"] for t in message.agent_thoughts] == ["getPet"]
    assert ToolCallRecord.objects.filter(run=run, status="succeeded").count() == 1

    # The follow-up: the model sees the earlier tool call and its observation.
    llm_env.answer("Still a cat.", once=True)
    follow = sse_call(
        "POST",
        run_path(pet_agent),
        token=token,
        body={"inputs": {}, "query": "And now?", "conversation_id": str(run.conversation_id)},
    )
    assert follow.names[-1] == "message_end"
    memory = llm_env.requests[-1].body["messages"]
    assert [m["role"] for m in memory] == [
        "system",
        "user",
        "assistant",
        "tool",
        "assistant",
        "user",
    ]
    assert memory[2]["tool_calls"][0]["function"] == {
        "name": "getPet",
        "arguments": '{"pet_id": 3}',
    }
    assert '"species": "cat"' in memory[3]["content"]
    assert memory[4] == {"role": "assistant", "content": "Pet 3 is a cat."}


def test_a_missing_provider_makes_the_agent_unavailable_naming_it(acme, alice, token):
    result = import_dsl(acme, alice, agent_dsl())
    assert "pets" in result.warnings[0]
    body = {"inputs": {}, "query": "hi"}
    response = sse_call("POST", run_path(result.app), token=token, body=body)
    assert response.status == 400 and response.json()["code"] == "app_unavailable"
    assert response.json()["message"].endswith("pets")


def test_a_stop_inside_the_streamed_answer_ends_with_a_stopped_message_end(
    pet_agent, token, llm_env, api
):
    llm_env.stall("Thinking about ")

    async def scenario():
        stream = await LiveStream(
            "POST", run_path(pet_agent), token=token, body={"inputs": {}, "query": "q"}
        ).start()
        events = await stream.read_until(lambda ev: any(e["event"] == "agent_message" for e in ev))
        from asgiref.sync import sync_to_async

        path = f"/openapi/v1/apps/{pet_agent.id}/tasks/{events[0]['task_id']}:stop"
        await sync_to_async(lambda: api(token).post(path))()
        return await stream.read_to_end(timeout=10)

    events = async_to_sync(scenario)()
    assert events[-1]["event"] == "message_end" and events[-1]["metadata"]["stopped"] is True
    assert llm_env.client_gone.wait(5)
    assert Run.objects.get().status == "stopped"


def test_calls_past_the_runs_limit_are_refused_and_the_model_is_told(
    pet_agent, token, llm_env, settings
):
    settings.TOOL_MAX_CALLS_PER_RUN = 1
    llm_env.answer_tool_calls([("getPet", {"pet_id": 1}), ("getPet", {"pet_id": 2})], once=True)
    llm_env.answer("Only one.", once=True)
    response = sse_call(
        "POST", run_path(pet_agent), token=token, body={"inputs": {}, "query": "pets 1 and 2?"}
    )
    assert response.names[-1] == "message_end"
    tool_messages = [m for m in llm_env.requests[-1].body["messages"] if m["role"] == "tool"]
    assert '"pet-1"' in tool_messages[0]["content"]
    assert tool_messages[1]["content"] == "Error: the run reached its limit of 1 tool calls"
    statuses = sorted(ToolCallRecord.objects.values_list("status", flat=True))
    assert statuses == ["refused", "succeeded"]
