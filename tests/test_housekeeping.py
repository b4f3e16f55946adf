"""The in-process housekeeping thread and its lock (decisions §7)."""

import time
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone

from accounts.models import AccessToken
from accounts.tokens import token_digest
from config import housekeeping


@pytest.fixture
def fresh_lock():
    cache.delete(housekeeping.lock_key())
    yield
    cache.delete(housekeeping.lock_key())


def _overdue(token):
    AccessToken.objects.filter(token_hash=token_digest(token)).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )


def test_only_one_process_runs_a_round(alice, token_for, fresh_lock, settings):
    settings.HOUSEKEEPING_SECONDS = 30
    _overdue(token_for(alice))
    first = housekeeping.run_locked()
    assert first is not None and first["overdue access tokens expired"] == 1
    # Another process (or thread) in the same period finds the lock taken.
    assert housekeeping.run_locked() is None


def test_a_failing_task_does_not_stop_the_others(alice, token_for, monkeypatch):
    _overdue(token_for(alice))

    def broken() -> int:
        raise RuntimeError("boom")

    real = housekeeping.tasks()
    monkeypatch.setattr(housekeeping, "tasks", lambda: [("broken", broken), *real])
    results = housekeeping.run_once()
    assert "broken" not in results
    assert results["overdue access tokens expired"] == 1


@pytest.mark.django_db(transaction=True)
def test_background_thread_runs_rounds(make_account, token_for, settings, monkeypatch, fresh_lock):
    account = make_account("dana@example.com")
    token = token_for(account)
    _overdue(token)
    settings.TESTING = False
    settings.HOUSEKEEPING_SECONDS = 1
    monkeypatch.setattr(housekeeping, "_started", housekeeping.threading.Event())
    stop = housekeeping.start_background()
    assert stop is not None
    assert housekeeping.start_background() is None  # once per process
    try:
        deadline = time.monotonic() + 10
        row = AccessToken.objects.get(device_label__startswith="test device")
        while row.revoked_at is None and time.monotonic() < deadline:
            time.sleep(0.2)
            row.refresh_from_db()
        assert row.revoked_at is not None
    finally:
        stop.set()
