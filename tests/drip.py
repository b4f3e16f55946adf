"""A server that answers slowly on purpose: one byte every ``every`` seconds, for tests of
deadlines and stops (docs/decisions/16-budgets.md). Each byte comes well inside any read timeout,
so only a total deadline (or a stop) ends a call to it. It gives up after ``lasts`` seconds, so a
client without a deadline ends too (and its test fails on the time it took, never hangs).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

OK_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 1000000\r\n\r\n"
SSE_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\n"


@dataclass
class Drip:
    port: int
    connections: list[float] = field(default_factory=list)  # when each client connected
    closed: list[float] = field(default_factory=list)  # when each client went away

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@contextmanager
def dripping_server(
    *,
    head: bytes = OK_HEAD,
    drip_head: bool = False,
    byte: bytes = b"x",
    every: float = 0.2,
    lasts: float = 8.0,
) -> Iterator[Drip]:
    """``head`` is sent at once and then ``byte`` dripped (the body); with ``drip_head`` the
    status line comes at once and the headers themselves drip (``X-Slow: xxxx...``)."""
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(32)
    listener.settimeout(0.1)
    drip = Drip(listener.getsockname()[1])
    done = threading.Event()

    def serve(conn: socket.socket) -> None:
        drip.connections.append(time.monotonic())
        ends = time.monotonic() + lasts
        try:
            conn.settimeout(lasts)
            received = b""
            while b"\r\n\r\n" not in received:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                received += chunk
            if drip_head:
                conn.sendall(b"HTTP/1.1 200 OK\r\nX-Slow: ")
            else:
                conn.sendall(head)
            while not done.is_set() and time.monotonic() < ends:
                conn.sendall(byte)
                done.wait(every)
        except OSError:
            pass
        finally:
            drip.closed.append(time.monotonic())
            conn.close()

    def accept() -> None:
        while not done.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield drip
    finally:
        done.set()
        thread.join(timeout=2)
        listener.close()
