"""The whole device login through HTTP, as a terminal and a browser would do it (flows.md §1)."""

import re

from django.test import Client

from oauth_device.tests.helpers import PASSWORD, poll, poll_error, start


def test_terminal_login_end_to_end(alice, acme, api, clock):
    terminal = Client(HTTP_USER_AGENT="difyctl/0.1.0 (linux; x64; stable)")
    browser = Client(enforce_csrf_checks=True)

    # 1. The CLI asks for a code and polls once right away.
    code = start(terminal, label="difyctl on laptop")
    assert poll_error(terminal, code["device_code"]) == {"error": "authorization_pending"}

    # 2. The user opens the verification_uri with the code and is sent to log in.
    url = code["verification_uri"] + "?user_code=" + code["user_code"]
    path = url.removeprefix("http://testserver")
    response = browser.get(path)
    assert response.status_code == 302
    login_url = response["Location"]
    login_page = browser.get(login_url)
    csrf = browser.cookies["csrftoken"].value
    next_path = re.search(r'name="next" value="([^"]+)"', login_page.content.decode()).group(1)
    response = browser.post(
        "/accounts/login/",
        {
            "username": "alice@example.com",
            "password": PASSWORD,
            "next": next_path,
            "csrfmiddlewaretoken": csrf,
        },
    )
    assert response.status_code == 302 and response["Location"] == path

    # 3. The code form is pre-filled; the user continues to the confirmation page.
    entry = browser.get(path)
    assert f'value="{code["user_code"]}"' in entry.content.decode()
    csrf = browser.cookies["csrftoken"].value
    confirm = browser.post("/device", {"user_code": code["user_code"], "csrfmiddlewaretoken": csrf})
    assert confirm.status_code == 200
    assert "difyctl on laptop" in confirm.content.decode()

    # 4. Approve.
    result = browser.post(
        "/device/approve", {"user_code": code["user_code"], "csrfmiddlewaretoken": csrf}
    )
    assert "return to your terminal" in result.content.decode()

    # 5. The next poll (after the interval) gets the token, once.
    clock.advance(code["interval"])
    response = poll(terminal, code["device_code"])
    assert response.status_code == 200
    login = response.json()
    clock.advance(code["interval"])
    assert poll_error(terminal, code["device_code"]) == {"error": "expired_token"}

    # 6. The token works and shows up as a session with its label and client.
    account = api(login["token"]).get("/openapi/v1/account")
    assert account.status_code == 200
    assert account.json()["account"]["email"] == "alice@example.com"
    assert account.json()["default_workspace_id"] == str(acme.id)
    sessions = api(login["token"]).get("/openapi/v1/account/sessions").json()
    assert sessions["total"] == 1
    row = sessions["data"][0]
    assert row["id"] == login["token_id"]
    assert (row["client_id"], row["device_label"], row["prefix"]) == (
        "difyctl",
        "difyctl on laptop",
        "dfoa_",
    )


def test_terminal_login_through_the_json_endpoints(alice, api):
    """The e2e harness's path: lookup, then approve with the session cookie and X-CSRFToken."""
    terminal = Client()
    code = start(terminal, label="e2e-primary")
    browser = Client(enforce_csrf_checks=True)
    assert browser.login(username="alice@example.com", password=PASSWORD)
    lookup = browser.get("/openapi/v1/oauth/device/lookup", {"user_code": code["user_code"]})
    assert lookup.json()["valid"] is True
    browser.get("/device")
    response = browser.post(
        "/openapi/v1/oauth/device/approve",
        {"user_code": code["user_code"]},
        content_type="application/json",
        HTTP_X_CSRFTOKEN=browser.cookies["csrftoken"].value,
    )
    assert response.json() == {"status": "approved"}
    token = poll(terminal, code["device_code"]).json()["token"]
    assert api(token).get("/openapi/v1/account").status_code == 200
