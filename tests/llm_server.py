"""A local OpenAI-compatible chat-completions server: the test double of a model provider.

It speaks the real wire protocol (``POST /v1/chat/completions`` and ``/chat/completions``, SSE
chunks with ``choices[0].delta.content``, a final usage chunk when the request asked for one with
``stream_options.include_usage``, then ``data: [DONE]``), so the product's client is exercised
exactly as against a real provider. It is never product code.

Use the ``llm_server`` fixture (registered for every test directory by the root ``conftest.py``)::

    def test_x(llm_server):
        llm_server.answer("Hello there", usage=(12, 3))
        ...  # point a provider config (or settings.OPENAI_BASE_URL) at llm_server.url
        body = llm_server.requests[-1].body
        assert body["model"] == "gpt-4o-mini" and body["stream"] is True

Scripting (each call sets the reply for every following request; ``once=True`` queues a reply for
the next request only, queued replies are used first and in order):

- ``answer(text, usage=(prompt, completion), chunks=[...])`` — stream ``text`` in several chunks;
- ``answer_tool_calls([(name, arguments_dict_or_json_text), ...], text="")`` — call tools: stream
  each call's ``id`` and name, then its arguments in fragments (``delta.tool_calls``), finish
  ``tool_calls``;
- ``fail(status, message=...)`` — answer 500 / 429 / 401 / ... with an OpenAI-style error body;
- ``stall(text="")`` — stream ``text`` then hold the response open until the client goes away
  (``client_gone`` is set) or the test ends;
- ``close()`` — stop listening: the port refuses connections from then on.

``llm_env`` additionally points ``settings.OPENAI_BASE_URL`` / ``OPENAI_API_KEY`` at the server.
"""

from __future__ import annotations

import json
import select
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

PATHS = ("/v1/chat/completions", "/chat/completions")
TEST_API_KEY = "sk-test-local-llm"


@dataclass
class Reply:
    """What the server does with one request."""

    text: str = "Hello from the test model."
    chunks: list[str] | None = None
    usage: tuple[int, int] | None = None
    status: int = 200
    error_message: str = ""
    stall: bool = False
    chunk_delay: float = 0.0
    finish_reason: str = "stop"
    # (id, name, arguments JSON text) for each tool call the model makes.
    tool_calls: list[tuple[str, str, str]] = field(default_factory=list)

    def pieces(self) -> list[str]:
        if self.chunks is not None:
            return list(self.chunks)
        # Word-sized pieces (keeping the spaces) so a client must join several deltas.
        if not self.text:
            return []
        words = self.text.split(" ")
        return [w + " " for w in words[:-1]] + [words[-1]]


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: Any

    def header(self, name: str) -> str | None:
        for key, value in self.headers.items():
            if key.lower() == name.lower():
                return value
        return None


@dataclass
class _State:
    default: Reply = field(default_factory=Reply)
    queue: list[Reply] = field(default_factory=list)
    requests: list[RecordedRequest] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    arrived: threading.Condition = field(init=False)
    released: threading.Event = field(default_factory=threading.Event)
    client_gone: threading.Event = field(default_factory=threading.Event)
    stalling: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self.arrived = threading.Condition(self.lock)


def _call(call_id: str, name: str, arguments: str) -> dict[str, Any]:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


def _default_usage(body: Any, pieces: list[str]) -> tuple[int, int]:
    messages = body.get("messages", []) if isinstance(body, dict) else []
    prompt = sum(len(str(m.get("content", "")).split()) for m in messages if isinstance(m, dict))
    return prompt, len(pieces)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server
    timeout = 30

    def log_message(self, format: str, *args: Any) -> None:  # quiet test output
        pass

    def do_GET(self) -> None:
        self._json(404, {"error": {"message": "not found", "type": "invalid_request_error"}})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body: Any = json.loads(raw or b"null")
        except ValueError:
            body = raw.decode("utf-8", "replace")
        state = self.server.state
        with state.lock:
            state.requests.append(
                RecordedRequest("POST", self.path, dict(self.headers.items()), body)
            )
            reply = state.queue.pop(0) if state.queue else state.default
            state.arrived.notify_all()
        if self.path.split("?")[0] not in PATHS:
            self._json(404, {"error": {"message": "not found", "type": "invalid_request_error"}})
            return
        if reply.status != 200:
            kind = {429: "rate_limit_exceeded", 401: "invalid_api_key"}.get(
                reply.status, "server_error"
            )
            message = reply.error_message or f"test server answered {reply.status}"
            self._json(reply.status, {"error": {"message": message, "type": kind, "code": kind}})
            return
        if not (isinstance(body, dict) and body.get("stream")):
            self._complete(body, reply)
            return
        self._stream(body, reply)

    # --- responses --------------------------------------------------------------------------
    def _json(self, status: int, payload: Any) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _complete(self, body: Any, reply: Reply) -> None:
        pieces = reply.pieces()
        prompt, completion = reply.usage or _default_usage(body, pieces)
        self._json(
            200,
            {
                "id": "chatcmpl-test",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body.get("model", "") if isinstance(body, dict) else "",
                "choices": [
                    {
                        "index": 0,
                        "message": {
                            "role": "assistant",
                            "content": "".join(pieces),
                            **(
                                {"tool_calls": [_call(*c) for c in reply.tool_calls]}
                                if reply.tool_calls
                                else {}
                            ),
                        },
                        "finish_reason": reply.finish_reason,
                    }
                ],
                "usage": {
                    "prompt_tokens": prompt,
                    "completion_tokens": completion,
                    "total_tokens": prompt + completion,
                },
            },
        )

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _event(self, payload: Any) -> None:
        text = payload if isinstance(payload, str) else json.dumps(payload)
        self._chunk(f"data: {text}\n\n".encode())

    def _stream(self, body: dict[str, Any], reply: Reply) -> None:
        model = body.get("model", "")
        created = int(time.time())
        pieces = reply.pieces()

        def frame(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
            return {
                "id": "chatcmpl-test",
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            }

        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        try:
            self._event(frame({"role": "assistant", "content": ""}))
            for piece in pieces:
                if reply.chunk_delay:
                    time.sleep(reply.chunk_delay)
                self._event(frame({"content": piece}))
            for index, (call_id, name, arguments) in enumerate(reply.tool_calls):
                head = {"index": index, "id": call_id, "type": "function"}
                self._event(frame({"tool_calls": [head | {"function": {"name": name}}]}))
                # Arguments in fragments of at most 7 characters: a client must join them.
                for start in range(0, len(arguments), 7):
                    piece = {
                        "index": index,
                        "function": {"arguments": arguments[start : start + 7]},
                    }
                    self._event(frame({"tool_calls": [piece]}))
            if reply.stall:
                self._hold_open()
                return
            self._event(frame({}, reply.finish_reason))
            if (body.get("stream_options") or {}).get("include_usage"):
                prompt, completion = reply.usage or _default_usage(body, pieces)
                usage = {
                    "prompt_tokens": prompt,
                    "completion_tokens": completion,
                    "total_tokens": prompt + completion,
                }
                self._event(
                    {
                        "id": "chatcmpl-test",
                        "object": "chat.completion.chunk",
                        "created": created,
                        "model": model,
                        "choices": [],
                        "usage": usage,
                    }
                )
            self._event("[DONE]")
            self._chunk(b"")
        except (BrokenPipeError, ConnectionResetError):
            self.server.state.client_gone.set()
            self.close_connection = True

    def _hold_open(self) -> None:
        """Send nothing more; notice the client closing the connection (an aborted call)."""
        state = self.server.state
        state.stalling.set()
        self.close_connection = True
        sock = self.connection
        while not state.released.is_set():
            readable, _, _ = select.select([sock], [], [], 0.05)
            if not readable:
                continue
            try:
                data = sock.recv(1, socket.MSG_PEEK)
            except OSError:
                data = b""
            if not data:
                state.client_gone.set()
                return


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = False
    state: _State


class LLMServer:
    """Handle on a running test server (see the module docstring)."""

    def __init__(self) -> None:
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.state = _State()
        self.host, self.port = self._server.server_address[:2]
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._closed = False
        self._thread.start()

    # --- addresses ---------------------------------------------------------------------------
    @property
    def url(self) -> str:
        """Base URL as configured for a provider (``…/v1``; the client appends the path)."""
        return f"http://{self.host}:{self.port}/v1"

    @property
    def root_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    # --- scripting ---------------------------------------------------------------------------
    def _set(self, reply: Reply, once: bool) -> None:
        state = self._server.state
        with state.lock:
            if once:
                state.queue.append(reply)
            else:
                state.default = reply

    def answer(
        self,
        text: str,
        *,
        usage: tuple[int, int] | None = None,
        chunks: list[str] | None = None,
        chunk_delay: float = 0.0,
        finish_reason: str = "stop",
        once: bool = False,
    ) -> None:
        """Stream ``text`` (in ``chunks`` if given, else word by word); ``usage`` is
        (prompt_tokens, completion_tokens) for the final usage chunk (total = their sum)."""
        self._set(
            Reply(
                text=text if chunks is None else "".join(chunks),
                chunks=chunks,
                usage=usage,
                chunk_delay=chunk_delay,
                finish_reason=finish_reason,
            ),
            once,
        )

    def answer_tool_calls(
        self,
        calls: list[tuple[str, Any]],
        *,
        text: str = "",
        usage: tuple[int, int] | None = None,
        once: bool = False,
    ) -> None:
        """Call tools: ``calls`` is ``[(name, arguments), ...]`` with ``arguments`` a dict (sent
        as JSON) or raw text (sent as is, e.g. malformed JSON); ids are ``call_1``, ``call_2``…
        ``text``, if any, streams first as content. Finishes with ``tool_calls``."""
        made = [
            (f"call_{i}", name, args if isinstance(args, str) else json.dumps(args))
            for i, (name, args) in enumerate(calls, start=1)
        ]
        reply = Reply(text=text, usage=usage, finish_reason="tool_calls", tool_calls=made)
        reply.chunks = reply.pieces()
        self._set(reply, once)

    def fail(self, status: int, *, message: str = "", once: bool = False) -> None:
        """Answer ``status`` (500, 429, 401, ...) with an OpenAI-style error body."""
        self._set(Reply(status=status, error_message=message), once)

    def stall(self, text: str = "", *, once: bool = False) -> None:
        """Stream ``text`` then hold the response open without sending more, until the client
        disconnects (``client_gone``) or the test ends."""
        self._set(Reply(text=text, chunks=[text] if text else [], stall=True), once)

    def reset(self) -> None:
        """Forget the script and the recorded requests (a server shared by several tests); a
        reply still stalled is let go."""
        self._server.state.released.set()
        self._server.state = _State()

    def close(self) -> None:
        """Stop listening: connections to ``url`` are refused from now on."""
        if self._closed:
            return
        self._closed = True
        self._server.state.released.set()
        self._server.shutdown()
        self._server.server_close()

    # --- observing ---------------------------------------------------------------------------
    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received so far, in order (headers + parsed JSON body)."""
        state = self._server.state
        with state.lock:
            return list(state.requests)

    @property
    def client_gone(self) -> threading.Event:
        """Set when a client closed its connection while a reply was still streaming."""
        return self._server.state.client_gone

    @property
    def stalling(self) -> threading.Event:
        """Set once a stalled reply has sent its text and is holding the connection open."""
        return self._server.state.stalling

    def wait_for_requests(self, count: int, timeout: float = 5.0) -> list[RecordedRequest]:
        """Block until ``count`` requests arrived (AssertionError after ``timeout``)."""
        state = self._server.state
        with state.lock:
            if not state.arrived.wait_for(lambda: len(state.requests) >= count, timeout):
                raise AssertionError(f"expected {count} requests, got {len(state.requests)}")
            return list(state.requests)

    def release(self) -> None:
        """Let stalled replies end (the connection is closed without [DONE])."""
        self._server.state.released.set()


@pytest.fixture
def llm_server() -> Iterator[LLMServer]:
    server = LLMServer()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def llm_env(llm_server: LLMServer, settings: Any) -> LLMServer:
    """``llm_server`` as the environment default provider (OPENAI_BASE_URL / OPENAI_API_KEY)."""
    settings.OPENAI_BASE_URL = llm_server.url
    settings.OPENAI_API_KEY = TEST_API_KEY
    return llm_server
