"""The streaming client against a local OpenAI-compatible server (tests/llm_server.py)."""

from __future__ import annotations

import json
import threading
import time
from contextlib import closing

import pytest

from apps_runtime.engine.host import StopRequested
from apps_runtime.providers.client import ProviderEndpoint, chat_stream
from apps_runtime.providers.types import ModelChunk, ProviderError, Usage
from tests.drip import SSE_HEAD, Drip, dripping_server

MESSAGES = [
    {"role": "system", "content": "You are terse."},
    {"role": "user", "content": "Say hello"},
]


def endpoint(server, key: str = "sk-abc") -> ProviderEndpoint:
    return ProviderEndpoint(provider="openai_api_compatible", base_url=server.url, api_key=key)


def collect(chunks) -> tuple[str, list[ModelChunk]]:
    items = list(chunks)
    return "".join(c.text for c in items), items


def test_request_body_and_headers(llm_server):
    llm_server.answer("Hi")
    collect(
        chat_stream(
            endpoint(llm_server),
            model="gpt-4o-mini",
            messages=MESSAGES,
            params={
                "temperature": 0.2,
                "max_tokens": 64,
                "stop": ["\n\n"],
                "top_p": None,
                "stream": False,  # the client owns these keys
                "model": "other",
            },
        )
    )
    [request] = llm_server.requests
    assert request.path == "/v1/chat/completions"
    assert request.header("authorization") == "Bearer sk-abc"
    assert request.body == {
        "model": "gpt-4o-mini",
        "messages": MESSAGES,
        "stream": True,
        "stream_options": {"include_usage": True},
        "temperature": 0.2,
        "max_tokens": 64,
        "stop": ["\n\n"],
    }


def test_no_authorization_header_without_a_key(llm_server):
    collect(chat_stream(endpoint(llm_server, key=""), model="m", messages=MESSAGES))
    assert llm_server.requests[0].header("authorization") is None


def test_text_arrives_in_chunks_and_usage_is_the_providers(llm_server):
    llm_server.answer("Hello there, friend", usage=(31, 4))
    text, items = collect(chat_stream(endpoint(llm_server), model="m", messages=MESSAGES))
    assert text == "Hello there, friend"
    assert len([c for c in items if c.text]) == 3
    last = items[-1]
    assert last.usage == Usage(prompt_tokens=31, completion_tokens=4, total_tokens=35)
    assert last.finish_reason == "stop"
    assert all(c.usage is None for c in items[:-1])


def test_base_url_without_v1_and_trailing_slash(llm_server):
    ep = ProviderEndpoint(provider="p", base_url=llm_server.root_url + "/")
    text, _ = collect(chat_stream(ep, model="m", messages=MESSAGES))
    assert text
    assert llm_server.requests[0].path == "/chat/completions"


@pytest.mark.parametrize(
    ("status", "code", "http_status"),
    [
        (500, "completion_request_error", 400),
        (502, "completion_request_error", 400),
        (400, "completion_request_error", 400),
        (429, "rate_limit_error", 429),
        (401, "provider_not_initialize", 400),
        (403, "provider_not_initialize", 400),
    ],
)
def test_error_statuses_map_to_contract_codes(llm_server, status, code, http_status):
    llm_server.fail(status, message="upstream says no")
    with pytest.raises(ProviderError) as caught:
        collect(chat_stream(endpoint(llm_server), model="m", messages=MESSAGES))
    assert caught.value.code == code
    assert caught.value.status == http_status
    assert "upstream says no" in caught.value.message
    assert "sk-abc" not in caught.value.message


def test_refused_connection_is_a_completion_request_error(llm_server):
    llm_server.close()
    started = time.monotonic()
    with pytest.raises(ProviderError) as caught:
        collect(chat_stream(endpoint(llm_server), model="m", messages=MESSAGES))
    assert caught.value.code == "completion_request_error"
    assert f"127.0.0.1:{llm_server.port}" in caught.value.message
    assert time.monotonic() - started < 5


def test_a_silent_provider_times_out(llm_server, settings):
    settings.PROVIDER_READ_TIMEOUT_SECONDS = 1
    llm_server.stall("partial")
    chunks = chat_stream(endpoint(llm_server), model="m", messages=MESSAGES)
    assert next(chunks).text == "partial"
    with pytest.raises(ProviderError) as caught:
        next(chunks)
    assert caught.value.code == "completion_request_error"
    assert "in time" in caught.value.message


def test_closing_the_iterator_aborts_the_http_call(llm_server):
    llm_server.stall("first words")
    with closing(chat_stream(endpoint(llm_server), model="m", messages=MESSAGES)) as chunks:
        assert next(chunks).text == "first words"
    assert llm_server.client_gone.wait(5)


def test_should_stop_aborts_a_stalled_call(llm_server, settings):
    settings.PROVIDER_STOP_POLL_MS = 20
    stop = threading.Event()
    llm_server.stall("thinking")
    chunks = chat_stream(
        endpoint(llm_server), model="m", messages=MESSAGES, should_stop=stop.is_set
    )
    assert next(chunks).text == "thinking"
    threading.Timer(0.2, stop.set).start()
    started = time.monotonic()
    with pytest.raises(StopRequested):
        next(chunks)
    assert time.monotonic() - started < 3
    assert llm_server.client_gone.wait(5)


def test_should_stop_aborts_a_flowing_stream(llm_server, settings):
    settings.PROVIDER_STOP_POLL_MS = 20
    stop = threading.Event()
    llm_server.answer(" ".join(["word"] * 200), chunk_delay=0.02)
    chunks = chat_stream(
        endpoint(llm_server), model="m", messages=MESSAGES, should_stop=stop.is_set
    )
    received = [next(chunks).text for _ in range(3)]
    assert received == ["word "] * 3
    stop.set()
    with pytest.raises(StopRequested):
        for chunk in chunks:
            received.append(chunk.text)
    assert len(received) < 100
    assert llm_server.client_gone.wait(5)


def test_should_stop_before_the_call_sends_nothing(llm_server):
    with pytest.raises(StopRequested):
        collect(
            chat_stream(
                endpoint(llm_server), model="m", messages=MESSAGES, should_stop=lambda: True
            )
        )
    assert llm_server.requests == []


def test_stream_cut_before_finishing_is_an_error(llm_server):
    llm_server.stall("half an ans")
    chunks = chat_stream(endpoint(llm_server), model="m", messages=MESSAGES)
    assert next(chunks).text == "half an ans"
    llm_server.release()  # the server drops the connection without finish_reason or [DONE]
    with pytest.raises(ProviderError) as caught:
        next(chunks)
    assert caught.value.code == "completion_request_error"


WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}


def test_tools_are_offered_and_streamed_tool_calls_are_assembled(llm_server):
    llm_server.answer_tool_calls(
        [("get_weather", {"city": "Paris, «Île-de-France»"}), ("get_time", '{"tz": "UTC"}')],
        text="Let me check.",
    )
    text, items = collect(
        chat_stream(
            endpoint(llm_server),
            model="gpt-4o-mini",
            messages=MESSAGES,
            tools=[WEATHER_TOOL],
            tool_choice="auto",
            params={"tools": ["not this"], "tool_choice": "none"},  # the client owns these keys
        )
    )
    body = llm_server.requests[-1].body
    assert body["tools"] == [WEATHER_TOOL]
    assert body["tool_choice"] == "auto"
    assert text == "Let me check."
    final = items[-1]
    assert final.finish_reason == "tool_calls"
    assert [(c.id, c.name) for c in final.tool_calls] == [
        ("call_1", "get_weather"),
        ("call_2", "get_time"),
    ]
    assert json.loads(final.tool_calls[0].arguments) == {"city": "Paris, «Île-de-France»"}
    assert json.loads(final.tool_calls[1].arguments) == {"tz": "UTC"}
    # Only the last chunk carries calls; no text chunk does.
    assert all(not c.tool_calls for c in items[:-1])


def test_without_tools_the_body_has_no_tool_keys_and_no_calls(llm_server):
    llm_server.answer("plain")
    _, items = collect(
        chat_stream(endpoint(llm_server), model="m", messages=MESSAGES, tool_choice="auto")
    )
    body = llm_server.requests[-1].body
    assert "tools" not in body and "tool_choice" not in body
    assert items[-1].tool_calls == ()


def test_malformed_arguments_text_is_handed_over_verbatim(llm_server):
    # The model's JSON is the caller's to validate: the client neither parses nor repairs it.
    llm_server.answer_tool_calls([("get_weather", '{"city": "Par')])
    _, items = collect(
        chat_stream(endpoint(llm_server), model="m", messages=MESSAGES, tools=[WEATHER_TOOL])
    )
    assert items[-1].tool_calls[0].arguments == '{"city": "Par'


@pytest.mark.parametrize(
    "fragments",
    [
        ["not a dict"],
        [{"index": "0", "function": {"name": "x"}}],
        [{"index": 0, "function": "x"}],
        [{"index": 0, "id": "call_9", "function": {"arguments": "{}"}}],  # never named
    ],
)
def test_malformed_tool_call_fragments_are_a_provider_error(fragments):
    from apps_runtime.providers.client import _ToolCallAssembler

    assembler = _ToolCallAssembler()
    with pytest.raises(ProviderError) as caught:
        assembler.add(fragments)
        assembler.complete()
    assert caught.value.code == "completion_request_error"


# --- total deadline (docs/decisions/16-budgets.md) ---------------------------------------------


def drip_endpoint(drip: Drip) -> ProviderEndpoint:
    return ProviderEndpoint(provider="openai_api_compatible", base_url=drip.base + "/v1")


@pytest.mark.parametrize("drip_head", [False, True], ids=["stream", "headers"])
def test_a_dripping_provider_is_cut_at_the_total_deadline(settings, drip_head):
    settings.PROVIDER_DEADLINE_SECONDS = 0.5
    with dripping_server(head=SSE_HEAD, byte=b": still here\n", drip_head=drip_head) as drip:
        started = time.monotonic()
        with pytest.raises(ProviderError) as caught:
            collect(chat_stream(drip_endpoint(drip), model="m", messages=MESSAGES))
        took = time.monotonic() - started
    assert caught.value.code == "completion_request_error"
    assert "did not finish within 0.5 seconds" in caught.value.message
    assert 0.45 <= took < 1.1


def test_a_stop_reaches_a_provider_that_drips_its_headers(settings):
    settings.PROVIDER_STOP_POLL_MS = 50
    stop_at = time.monotonic() + 0.3
    with dripping_server(drip_head=True, every=0.2) as drip:
        with pytest.raises(StopRequested):
            collect(
                chat_stream(
                    drip_endpoint(drip),
                    model="m",
                    messages=MESSAGES,
                    should_stop=lambda: time.monotonic() >= stop_at,
                )
            )
    assert time.monotonic() - stop_at < 1.0
