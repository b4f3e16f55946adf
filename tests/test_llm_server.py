"""The provider test double itself speaks the protocol the client relies on."""

import json

import httpx
import pytest


def _stream(url, body, headers=None):
    with httpx.stream("POST", url, json=body, headers=headers or {}, timeout=5) as response:
        return response.status_code, [
            line[len("data: ") :] for line in response.iter_lines() if line.startswith("data: ")
        ]


def test_streams_chunks_usage_and_done(llm_server):
    llm_server.answer("one two three", usage=(7, 3))
    body = {
        "model": "m",
        "stream": True,
        "stream_options": {"include_usage": True},
        "messages": [{"role": "user", "content": "hi"}],
    }
    status, frames = _stream(
        llm_server.url + "/chat/completions", body, {"Authorization": "Bearer k"}
    )
    assert status == 200
    assert frames[-1] == "[DONE]"
    chunks = [json.loads(f) for f in frames[:-1]]
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])
    assert text == "one two three"
    assert len([c for c in chunks if c["choices"] and c["choices"][0]["delta"].get("content")]) == 3
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"] == {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10}
    [request] = llm_server.requests
    assert request.body == body
    assert request.header("authorization") == "Bearer k"


def test_usage_chunk_only_when_asked_and_root_path(llm_server):
    status, frames = _stream(llm_server.root_url + "/chat/completions", {"stream": True})
    assert status == 200
    assert all("usage" not in json.loads(f) for f in frames[:-1])


def test_queued_replies_then_default(llm_server):
    llm_server.answer("default")
    llm_server.fail(429, once=True)
    llm_server.answer("first", once=True)
    codes = [_stream(llm_server.url + "/chat/completions", {"stream": True})[0] for _ in range(3)]
    assert codes == [429, 200, 200]


def test_stall_notices_the_client_leaving(llm_server):
    llm_server.stall("partial")
    with httpx.stream(
        "POST", llm_server.url + "/chat/completions", json={"stream": True}, timeout=5
    ) as response:
        for line in response.iter_lines():
            if "partial" in line:
                break
    assert llm_server.client_gone.wait(5)


def test_closed_refuses(llm_server):
    llm_server.close()
    with pytest.raises(httpx.ConnectError):
        httpx.post(llm_server.url + "/chat/completions", json={}, timeout=2)
