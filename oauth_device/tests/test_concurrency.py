"""Two or more concurrent polls of one approved grant yield exactly one token (security 3)."""

import threading
import time

import pytest
from django.db import connection
from django.test import Client

from accounts.models import AccessToken
from oauth_device import services
from oauth_device.models import DeviceGrant
from oauth_device.tests.helpers import Browser, poll, start
from tests.concurrency import race

POLLERS = 4


@pytest.mark.shared_services
def test_concurrent_polls_mint_exactly_one_token(transactional_db, alice):
    code = start(Client(), label="raced device")
    assert Browser(alice).approve(code["user_code"]).status_code == 200

    barrier = threading.Barrier(POLLERS)
    results: list[tuple[int, dict]] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def poller() -> None:
        try:
            barrier.wait(timeout=10)
            response = poll(Client(), code["device_code"])
            with lock:
                results.append((response.status_code, response.json()))
        except BaseException as exc:  # surfaced in the test thread below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=poller) for _ in range(POLLERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors, errors
    assert len(results) == POLLERS

    winners = [body for status, body in results if status == 200]
    losers = [body for status, body in results if status != 200]
    assert len(winners) == 1, results
    assert winners[0]["token"].startswith("dfoa_")
    assert all(body["error"] in {"expired_token", "slow_down"} for body in losers), losers
    assert AccessToken.objects.filter(device_label="raced device").count() == 1
    assert DeviceGrant.objects.get().status == "consumed"


@pytest.mark.shared_services
def test_parallel_code_requests_cannot_overshoot_the_pending_cap(transactional_db, settings):
    settings.DEVICE_PENDING_PER_IP = 3
    requests = 8
    statuses: list[int] = []
    lock = threading.Lock()

    def requester(index: int) -> None:
        response = Client().post(
            "/openapi/v1/oauth/device/code",
            {"client_id": "difyctl", "device_label": f"parallel {index}"},
            content_type="application/json",
        )
        with lock:
            statuses.append(response.status_code)

    errors = race(requests, requester)
    assert not errors, errors
    assert sorted(statuses) == [200] * 3 + [429] * 5
    assert DeviceGrant.objects.filter(status="pending").count() == 3


@pytest.mark.shared_services
def test_a_poll_that_waits_on_the_approval_sees_the_approving_account(transactional_db, alice):
    """The terminal polls while the browser's approval holds the grant's row lock: the poll waits,
    then must mint for the account that has just approved (not find the account missing)."""
    code = start(Client(), label="waiting poll")
    inside, release = threading.Event(), threading.Event()
    original = services.audit_record

    def slow_audit(*args, **kwargs):
        inside.set()  # the approval's transaction holds the grant's row lock from here
        release.wait(timeout=10)
        return original(*args, **kwargs)

    outcome: dict[str, object] = {}

    def approve() -> None:
        try:
            outcome["approve"] = Browser(alice).approve(code["user_code"]).status_code
        finally:
            connection.close()

    def terminal() -> None:
        try:
            response = poll(Client(), code["device_code"])
            outcome["poll"] = (response.status_code, response.json())
        finally:
            connection.close()

    services.audit_record = slow_audit
    try:
        approver = threading.Thread(target=approve)
        approver.start()
        assert inside.wait(timeout=10)
        poller = threading.Thread(target=terminal)
        poller.start()
        _wait_for_a_lock_wait()
        release.set()
        approver.join(timeout=30)
        poller.join(timeout=30)
    finally:
        release.set()
        services.audit_record = original

    assert outcome["approve"] == 200
    status, body = outcome["poll"]
    assert status == 200, body
    assert body["token"].startswith("dfoa_")
    assert body["account"]["email"] == alice.email
    assert AccessToken.objects.filter(device_label="waiting poll").get().account_id == alice.pk


def _wait_for_a_lock_wait() -> None:
    """Until some backend of this database waits on a row lock (the poll behind the approval)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            if cursor.fetchone()[0]:
                return
        time.sleep(0.02)
    raise AssertionError("the poll never waited on the approval's lock")
