"""Fixtures of the device-flow tests (helpers live in ``helpers.py``)."""

from __future__ import annotations

from datetime import datetime

import pytest
from django.utils import timezone

from oauth_device.tests.helpers import Clock


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """Move ``django.utils.timezone.now``, the one clock every expiry decision reads."""
    state = Clock()
    real_now = timezone.now

    def now() -> datetime:
        return real_now() + state.offset

    monkeypatch.setattr("django.utils.timezone.now", now)
    return state
