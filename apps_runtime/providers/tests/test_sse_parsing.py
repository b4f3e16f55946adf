"""Stream bodies a real provider might send that the scripted server does not: error frames,
malformed chunks, usage on the last choice chunk, no ``[DONE]``. A one-shot raw socket server
sends the exact bytes, so the client's real transport and parser are exercised."""

from __future__ import annotations

import socket
import threading

import pytest

from apps_runtime.providers.client import ProviderEndpoint, chat_stream
from apps_runtime.providers.types import ProviderError, Usage


def serve_once(body: bytes) -> str:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)

    def run() -> None:
        conn, _ = listener.accept()
        with conn:
            data = b""
            while b"\r\n\r\n" not in data:
                data += conn.recv(65536)
            head, _, rest = data.partition(b"\r\n\r\n")
            length = int(
                next(
                    line.split(b":")[1]
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length")
                )
            )
            while len(rest) < length:
                rest += conn.recv(65536)
            conn.sendall(
                b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n"
                + body
            )
        listener.close()

    threading.Thread(target=run, daemon=True).start()
    return f"http://127.0.0.1:{listener.getsockname()[1]}/v1"


def stream(body: bytes):
    ep = ProviderEndpoint(provider="p", base_url=serve_once(body))
    return list(chat_stream(ep, model="m", messages=[{"role": "user", "content": "x"}]))


def test_error_frame_inside_the_stream():
    with pytest.raises(ProviderError) as caught:
        stream(b'data: {"error": {"message": "model overloaded", "type": "server_error"}}\n\n')
    assert caught.value.code == "completion_request_error"
    assert "model overloaded" in caught.value.message


def test_rate_limit_frame_inside_the_stream():
    with pytest.raises(ProviderError) as caught:
        stream(b'data: {"error": {"message": "slow down", "type": "rate_limit_exceeded"}}\n\n')
    assert caught.value.code == "rate_limit_error"
    assert caught.value.status == 429


def test_malformed_chunk():
    with pytest.raises(ProviderError) as caught:
        stream(b"data: {not json\n\n")
    assert caught.value.code == "completion_request_error"


def test_usage_on_the_last_choice_chunk_and_comments_and_no_done():
    items = stream(
        b": keep-alive\n\n"
        b'data: {"choices": [{"index": 0, "delta": {"content": "A"}}]}\n\n'
        b'data:{"choices": [{"index": 0, "delta": {}, "finish_reason": "length"}],'
        b' "usage": {"prompt_tokens": 5, "completion_tokens": 1}}\n\n'
    )
    assert [c.text for c in items if c.text] == ["A"]
    assert items[-1].usage == Usage(5, 1, 6)
    assert items[-1].finish_reason == "length"


def test_no_usage_reported_is_none():
    items = stream(
        b'data: {"choices": [{"index": 0, "delta": {"content": "B"}, "finish_reason": "stop"}]}\n\n'
        b"data: [DONE]\n\n"
    )
    assert items[-1].usage is None
