"""A real OpenID provider on 127.0.0.1 for the SSO tests: npm's ``oidc-provider`` (panva's
OpenID-certified implementation, pinned by ``tests/oidc/package-lock.json``, installed by
``make test``) run with the system ``node`` by ``tests/oidc/server.mjs``.

The test owns the provider's signing key (``key``), so it can also forge ID tokens that carry a
valid signature but wrong claims.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path

from joserfc.jwk import RSAKey

from tests.servers import Server

OIDC_DIR = Path(__file__).resolve().parent / "oidc"
CLIENT_ID = "difyapi-test"
CLIENT_SECRET = "op-client-secret-for-tests"


def missing() -> str | None:
    """Why the provider cannot start here, or None."""
    if shutil.which("node") is None:
        return "node is missing (apt-get install nodejs)"
    if not (OIDC_DIR / "node_modules" / "oidc-provider").is_dir():
        return "oidc-provider is not installed (npm ci --prefix tests/oidc; `make test` does it)"
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class OpenIdProvider:
    def __init__(self, redirect_uris: list[str]) -> None:
        self.key = RSAKey.generate_key(
            2048, parameters={"kid": "op-key", "use": "sig", "alg": "RS256"}, private=True
        )
        self.port = _free_port()
        self.issuer = f"http://127.0.0.1:{self.port}"
        self.discovery_url = f"{self.issuer}/.well-known/openid-configuration"
        env = {
            **os.environ,
            "OP_ISSUER": self.issuer,
            "OP_PORT": str(self.port),
            "OP_CLIENT_ID": CLIENT_ID,
            "OP_CLIENT_SECRET": CLIENT_SECRET,
            "OP_REDIRECT_URIS": " ".join(redirect_uris),
            "OP_JWKS": json.dumps({"keys": [self.key.as_dict(private=True)]}),
        }
        self.process = subprocess.Popen(
            ["node", str(OIDC_DIR / "server.mjs")],
            cwd=OIDC_DIR,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        deadline = time.monotonic() + 20
        assert self.process.stdout is not None
        self.log: list[str] = []
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            self.log.append(line)
            if line.startswith("listening"):
                # Keep reading, so the provider never blocks on a full pipe.
                threading.Thread(target=self._drain, daemon=True).start()
                return
            if not line and self.process.poll() is not None:
                break
        self.stop()
        raise RuntimeError("the OpenID provider did not start: " + "".join(self.log)[-2000:])

    def _drain(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.log.append(line)

    def stop(self) -> None:
        Server(self.process, self.port, self.log).stop()
        if self.process.stdout is not None:
            self.process.stdout.close()
