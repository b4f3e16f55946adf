"""The approval page at /device (issue 3 item 4, security 7)."""

from urllib.parse import quote

import pytest
from django.test import Client

from oauth_device.models import DeviceGrant
from oauth_device.tests.helpers import PASSWORD, Browser, poll, start


def html(response) -> str:
    return response.content.decode()


def test_login_required_with_a_way_back(client, db):
    response = client.get("/device?user_code=ABCD-EFGH")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=" + quote(
        "/device?user_code=ABCD-EFGH", safe="/"
    )


def test_login_brings_the_user_back_to_the_code(client, alice):
    login = client.get("/accounts/login/?next=/device%3Fuser_code%3DABCD-EFGH")
    assert 'value="/device?user_code=ABCD-EFGH"' in html(login)
    response = client.post(
        "/accounts/login/",
        {
            "username": "alice@example.com",
            "password": PASSWORD,
            "next": "/device?user_code=ABCD-EFGH",
        },
    )
    assert response.status_code == 302
    assert response["Location"] == "/device?user_code=ABCD-EFGH"


def test_entry_form_is_prefilled_and_never_decides(client, alice):
    code = start(client)["user_code"]
    browser = Browser(alice)
    response = browser.client.get(f"/device?user_code={code.lower().replace('-', '')}")
    assert response.status_code == 200
    page = html(response)
    assert f'value="{code}"' in page  # normalised for display
    assert '<label for="id_user_code">' in page
    assert "csrfmiddlewaretoken" in page
    assert DeviceGrant.objects.get().status == "pending"


def test_entry_form_escapes_the_prefill(client, alice):
    response = Browser(alice).client.get('/device?user_code="><script>alert(1)</script>')
    assert "<script>alert(1)" not in html(response)


def test_confirm_page_shows_who_what_when_and_where(client, alice):
    code = start(
        client,
        label="difyctl on build-box",
        HTTP_USER_AGENT="difyctl/0.1.0 (linux; x64; stable)",
        REMOTE_ADDR="198.51.100.23",
    )["user_code"]
    response = Browser(alice).page("/device", {"user_code": code.lower()})
    assert response.status_code == 200
    page = html(response)
    assert "difyctl on build-box" in page
    assert "difyctl/0.1.0 (linux; x64; stable)" in page
    assert "198.51.100.23" in page
    assert ">difyctl<" in page
    assert "UTC" in page and "<time datetime=" in page
    assert "Only approve a login you started yourself" in page
    assert page.count("csrfmiddlewaretoken") >= 2
    assert 'action="/device/approve"' in page and 'action="/device/deny"' in page
    assert ">Approve</button>" in page and ">Deny</button>" in page
    assert DeviceGrant.objects.get().status == "pending"  # showing it decides nothing


def test_confirm_page_escapes_the_device_label(client, alice):
    code = start(client, label="<img src=x onerror=alert(1)>")["user_code"]
    page = html(Browser(alice).page("/device", {"user_code": code}))
    assert "<img src=x" not in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page


def test_device_code_never_appears_in_the_pages(client, alice):
    body = start(client)
    browser = Browser(alice)
    pages = [
        browser.client.get(f"/device?user_code={body['user_code']}"),
        browser.page("/device", {"user_code": body["user_code"]}),
        browser.page("/device/approve", {"user_code": body["user_code"]}),
    ]
    for response in pages:
        assert body["device_code"] not in html(response)


def test_approve_from_the_page(client, alice):
    body = start(client)
    response = Browser(alice).page("/device/approve", {"user_code": body["user_code"]})
    assert response.status_code == 200
    assert "return to your terminal" in html(response)
    assert DeviceGrant.objects.get().account == alice
    assert poll(client, body["device_code"]).status_code == 200


def test_deny_from_the_page(client, alice):
    body = start(client)
    response = Browser(alice).page("/device/deny", {"user_code": body["user_code"]})
    assert response.status_code == 200
    assert "denied" in html(response)
    assert poll(client, body["device_code"]).json() == {"error": "access_denied"}


def test_unknown_code_page_offers_a_retry(client, alice):
    response = Browser(alice).page("/device", {"user_code": "ABCD-EFGH"})
    assert response.status_code == 404
    page = html(response)
    assert "expired or not found" in page
    assert 'href="/device"' in page


def test_empty_code_shows_the_form_again(client, alice):
    response = Browser(alice).page("/device", {"user_code": "  "})
    assert response.status_code == 200
    assert 'role="alert"' in html(response) and 'aria-invalid="true"' in html(response)


def test_already_decided_page(client, alice):
    code = start(client)["user_code"]
    browser = Browser(alice)
    browser.page("/device/approve", {"user_code": code})
    response = browser.page("/device/approve", {"user_code": code})
    assert response.status_code == 409
    assert "already approved" in html(response)
    assert browser.page("/device", {"user_code": code}).status_code == 409


def test_another_account_sees_unknown_after_the_claim(client, alice, bob):
    code = start(client)["user_code"]
    Browser(alice).page("/device/deny", {"user_code": code})
    intruder = Browser(bob)
    assert intruder.page("/device", {"user_code": code}).status_code == 404
    assert intruder.page("/device/approve", {"user_code": code}).status_code == 404
    assert DeviceGrant.objects.get().status == "denied"


def test_page_posts_need_csrf(client, alice):
    code = start(client)["user_code"]
    browser = Browser(alice)
    for path in ("/device", "/device/approve", "/device/deny"):
        response = browser.client.post(path, {"user_code": code})
        assert response.status_code == 403
        assert response["Content-Type"].startswith("text/html")
    assert DeviceGrant.objects.get().status == "pending"


def test_decision_pages_need_a_login(client, db):
    code = start(client)["user_code"]
    response = Client().post("/device/approve", {"user_code": code})
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    assert DeviceGrant.objects.get().status == "pending"


def test_decision_pages_are_post_only(client, alice):
    code = start(client)["user_code"]
    response = Browser(alice).client.get(f"/device/approve?user_code={code}")
    assert response.status_code == 405
    assert DeviceGrant.objects.get().status == "pending"


def test_wrong_code_lockout_page(client, alice, settings):
    settings.DEVICE_WRONG_CODES_PER_ACCOUNT_PER_15_MIN = 2
    code = start(client)["user_code"]
    browser = Browser(alice)
    for wrong in ("ABCD-EFGH", "BCDE-FGHJ"):
        assert browser.page("/device", {"user_code": wrong}).status_code == 404
    response = browser.page("/device", {"user_code": code})
    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= 900
    assert response["Content-Type"].startswith("text/html")
    assert "Too many attempts" in html(response)
    assert browser.page("/device/approve", {"user_code": code}).status_code == 429
    assert DeviceGrant.objects.get().status == "pending"


def test_page_and_json_share_the_decision_limit(client, alice, settings):
    settings.DEVICE_DECISIONS_PER_ACCOUNT_PER_HOUR = 2
    browser = Browser(alice)
    assert (
        browser.page("/device/approve", {"user_code": start(client)["user_code"]}).status_code
        == 200
    )
    assert browser.approve(start(client)["user_code"]).status_code == 200
    response = browser.page("/device/deny", {"user_code": start(client)["user_code"]})
    assert response.status_code == 429 and "Too many attempts" in html(response)


@pytest.mark.parametrize("path", ["/device", "/accounts/login/"])
def test_pages_cannot_be_framed(client, alice, path):
    Browser(alice)  # a session exists, the page renders
    response = Client().get(path) if path != "/device" else Browser(alice).client.get(path)
    assert response["X-Frame-Options"] == "DENY"
    assert response["Content-Security-Policy"] == "frame-ancestors 'none'"


def test_result_and_error_pages_cannot_be_framed(client, alice):
    response = Browser(alice).page("/device", {"user_code": "ABCD-EFGH"})
    assert response["X-Frame-Options"] == "DENY"
    assert response["Content-Security-Policy"] == "frame-ancestors 'none'"


def test_device_pages_are_not_cached(client, alice):
    code = start(client)["user_code"]
    response = Browser(alice).page("/device", {"user_code": code})
    assert "no-store" in response["Cache-Control"] or "no-cache" in response["Cache-Control"]


def test_api_responses_cannot_be_framed(client, db):
    response = client.post(
        "/openapi/v1/oauth/device/code",
        {"client_id": "difyctl", "device_label": "x"},
        content_type="application/json",
    )
    assert response["X-Frame-Options"] == "DENY"
    assert response["Content-Security-Policy"] == "frame-ancestors 'none'"


def test_stylesheet_is_served_locally(client, alice):
    page = html(Browser(alice).client.get("/device"))
    assert 'href="/static/css/site.css"' in page
    assert "http://" not in page and "https://" not in page  # no CDN
