"""``python -m config.portcheck HOST PORT``: ``make run`` asks before it prints "Serving on …",
so a port already in use is one line saying so, not an address that never answers (issue 22)."""

from __future__ import annotations

import socket
import sys


def port_problem(host: str, port: int) -> str | None:
    """Why the server could not listen on ``host:port`` (None: it can)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        return f"cannot serve on {host}:{port}: {exc}"
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            return (
                f"cannot serve on {host}:{port}: {exc.strerror or exc} (another server is "
                f"listening there?); stop it or choose another port: make run PORT={port + 1}"
            )
    return None


def main(argv: list[str]) -> int:
    host, port = argv[0], int(argv[1])
    problem = port_problem(host, port)
    if problem:
        print(problem, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
