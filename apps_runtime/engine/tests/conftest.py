from __future__ import annotations

from collections.abc import Iterator

import pytest

from apps_runtime.engine.tests.httpserver import LocalServer, local_server


@pytest.fixture
def http_server() -> Iterator[LocalServer]:
    with local_server() as server:
        yield server
