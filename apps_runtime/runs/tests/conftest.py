import pytest


@pytest.fixture(autouse=True)
def _runs_finish_before_teardown():
    """Jobs write from worker threads: let them end before the test database is flushed."""
    yield
    from apps_runtime.runs.executor import get_executor

    get_executor().wait_idle(10)


@pytest.fixture
def private_redis(settings):
    """A redis-server of this test's own as the event log (``REDIS_URL``; the cache stays as
    configured), to stop and restart; stopped afterwards."""
    from apps_runtime import events
    from tests.servers import PrivateRedis

    server = PrivateRedis().start()
    settings.REDIS_URL = server.url
    events.event_log_reset()
    yield server
    events.event_log_reset()  # before the event-log clean-up, which would talk to this server
    server.stop()
