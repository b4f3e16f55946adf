"""Housekeeping purges dead grants; the admin lists grants masked and read-only (issue 3 item 8)."""

from io import StringIO

from django.core.management import call_command
from django.test import Client

from oauth_device.models import DeviceGrant
from oauth_device.services import device_grants_purge
from oauth_device.tests.helpers import Browser, poll, start


def test_purge_deletes_expired_and_consumed_grants(client, alice, clock):
    consumed = start(client, label="consumed")
    Browser(alice).approve(consumed["user_code"])
    assert poll(client, consumed["device_code"]).status_code == 200
    start(client, label="will expire")
    clock.advance(600)
    live = start(client, label="live")
    approved = start(client, label="approved, not yet polled")
    Browser(alice).approve(approved["user_code"])
    clock.advance(301)  # "will expire" is now past its 900 s

    assert device_grants_purge() == 2
    assert set(DeviceGrant.objects.values_list("device_label", flat=True)) == {
        "live",
        "approved, not yet polled",
    }
    assert DeviceGrant.objects.get(device_label="live").user_code == live["user_code"]


def test_housekeeping_command(client, db, clock):
    start(client)
    clock.advance(900)
    out = StringIO()
    call_command("housekeeping", stdout=out)
    assert "device grants purged: 1" in out.getvalue()
    assert not DeviceGrant.objects.exists()


def test_purged_codes_are_unknown(client, db, clock):
    code = start(client)
    clock.advance(900)
    device_grants_purge()
    clock.advance(5)
    response = poll(client, code["device_code"])
    assert response.json() == {"error": "expired_token"}


def admin_client(make_account):
    staff = make_account("root@example.com")
    staff.is_staff = staff.is_superuser = True
    staff.save()
    admin = Client()
    admin.force_login(staff)
    return admin


def test_admin_lists_grants_masked(client, make_account, alice):
    body = start(client, label="difyctl on laptop")
    Browser(alice).approve(body["user_code"])
    admin = admin_client(make_account)
    response = admin.get("/admin/oauth_device/devicegrant/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "difyctl on laptop" in page and "127.0.0.1" in page and "approved" in page
    assert "••••-••" + body["user_code"][-2:] in page
    assert body["user_code"] not in page
    grant = DeviceGrant.objects.get()
    detail = admin.get(f"/admin/oauth_device/devicegrant/{grant.pk}/change/").content.decode()
    for secret in (body["user_code"], body["device_code"], grant.device_code_hash):
        assert secret not in detail


def test_admin_cannot_add_grants(make_account):
    admin = admin_client(make_account)
    assert admin.get("/admin/oauth_device/devicegrant/add/").status_code == 403
