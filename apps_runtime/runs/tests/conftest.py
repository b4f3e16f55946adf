import pytest


@pytest.fixture(autouse=True)
def _runs_finish_before_teardown():
    """Jobs write from worker threads: let them end before the test database is flushed."""
    yield
    from apps_runtime.runs.executor import get_executor

    get_executor().wait_idle(10)
