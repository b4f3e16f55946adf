"""A local HTTP server for engine tests: answers what a test tells it and records what it got."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


Handler = Callable[[Recorded], Reply]


@dataclass
class LocalServer:
    port: int
    requests: list[Recorded]
    routes: dict[str, Handler]

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def route(self, path: str, reply: Reply | Handler) -> None:
        self.routes[path] = reply if callable(reply) else (lambda _req, r=reply: r)


def _echo(req: Recorded) -> Reply:
    payload = {
        "method": req.method,
        "path": req.path,
        "headers": req.headers,
        "body": req.body.decode("latin-1"),
    }
    return Reply(200, json.dumps(payload).encode(), {"Content-Type": "application/json"})


@contextmanager
def local_server() -> Iterator[LocalServer]:
    requests: list[Recorded] = []
    routes: dict[str, Handler] = {}

    class _Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            req = Recorded(
                self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body
            )
            requests.append(req)
            handler = routes.get(self.path.split("?")[0], _echo)
            reply = handler(req)
            if reply.delay:
                threading.Event().wait(reply.delay)
            self.send_response(reply.status)
            for key, value in reply.headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            if self.command != "HEAD":
                try:
                    self.wfile.write(reply.body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _handle

    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield LocalServer(server.server_address[1], requests, routes)
    finally:
        server.shutdown()
        server.server_close()
