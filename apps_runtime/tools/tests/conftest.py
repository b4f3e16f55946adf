from __future__ import annotations

from collections.abc import Iterator

import pytest

from apps_runtime.engine.tests.httpserver import LocalServer, local_server
from apps_runtime.tools.tests.helpers import serve_pets


@pytest.fixture(scope="module")
def _pets_server() -> Iterator[LocalServer]:
    with local_server() as server:
        yield server


@pytest.fixture
def pets(_pets_server: LocalServer, settings: object) -> LocalServer:
    """A local pet API on 127.0.0.1 (allowed for the test), its log empty, its routes fresh."""
    settings.HTTP_NODE_ALLOWED_HOSTS = ["127.0.0.1"]  # type: ignore[attr-defined]
    _pets_server.requests.clear()
    _pets_server.routes.clear()
    serve_pets(_pets_server)
    return _pets_server
