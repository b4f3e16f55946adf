"""``GET /openapi/v1/apps`` (contract §5.13, issue item 3)."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps_runtime.models import App, AppMode
from apps_runtime.tests.factories import AppFactory, WorkspaceFactory, make_prompt_app
from config.api.wire import MAX_PAGE_LIMIT
from conftest import assert_envelope

URL = "/openapi/v1/apps"
ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


@pytest.fixture
def client(alice, api, token_for):
    return api(token_for(alice))


def ids(response):
    return [row["id"] for row in response.json()["data"]]


def test_row_shape(client, acme, alice):
    app = make_prompt_app(
        acme, name="Support Bot", description="answers", author=alice, tags=["prod", "beta"]
    )
    response = client.get(URL, {"workspace_id": str(acme.id)})
    assert response.status_code == 200
    body = response.json()
    assert body == {
        "page": 1,
        "limit": 20,
        "total": 1,
        "has_more": False,
        "data": [
            {
                "id": str(app.id),
                "name": "Support Bot",
                "description": "answers",
                "mode": "chat",
                "tags": [{"name": "beta"}, {"name": "prod"}],
                "updated_at": body["data"][0]["updated_at"],
                "created_by_name": "Alice",
                "workspace_id": str(acme.id),
                "workspace_name": "Acme",
            }
        ],
    }
    assert ISO_Z.match(body["data"][0]["updated_at"])
    app.refresh_from_db()
    assert body["data"][0]["updated_at"] == app.updated_at.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_created_by_name_null_without_author_and_falls_back_to_email(client, acme, make_account):
    nameless = make_account("no.name@example.com")
    nameless.name = ""
    nameless.save()
    AppFactory(workspace=acme, name="orphan", author=None)
    AppFactory(workspace=acme, name="nameless", author=nameless)
    rows = {r["name"]: r for r in client.get(URL, {"workspace_id": str(acme.id)}).json()["data"]}
    assert rows["orphan"]["created_by_name"] is None
    assert rows["nameless"]["created_by_name"] == "no.name"


def test_empty_workspace_is_an_empty_envelope(client, acme):
    response = client.get(URL, {"workspace_id": str(acme.id), "page": 3, "limit": 7})
    assert response.json() == {"page": 3, "limit": 7, "total": 0, "has_more": False, "data": []}


def test_visibility_service_api_archived_and_other_workspace(client, acme):
    visible = AppFactory(workspace=acme)
    AppFactory(workspace=acme, enable_api=False)
    AppFactory(workspace=acme, status=App.Status.ARCHIVED)
    AppFactory(workspace=WorkspaceFactory())
    body = client.get(URL, {"workspace_id": str(acme.id)}).json()
    assert [r["id"] for r in body["data"]] == [str(visible.id)]
    assert body["total"] == 1


def test_access_mode_does_not_hide_apps_from_members(client, acme):
    apps = [AppFactory(workspace=acme, access_mode=mode) for mode in App.AccessMode.values]
    response = client.get(URL, {"workspace_id": str(acme.id)})
    assert set(ids(response)) == {str(a.id) for a in apps}


def test_order_newest_updated_first_then_id_and_stable(client, acme):
    old = AppFactory(workspace=acme)
    new = AppFactory(workspace=acme)
    # Touching an old app moves it to the front: the order is by updated_at, not created_at.
    touched = AppFactory(workspace=acme)
    App.objects.filter(pk=touched.pk).update(updated_at=new.updated_at + timedelta(hours=1))
    same_time = [
        AppFactory(workspace=acme, updated_at=old.updated_at - timedelta(days=1)) for _ in range(3)
    ]
    tied = sorted((str(a.id) for a in same_time), reverse=True)
    first = client.get(URL, {"workspace_id": str(acme.id)})
    assert ids(first) == [str(touched.id), str(new.id), str(old.id), *tied]
    assert ids(client.get(URL, {"workspace_id": str(acme.id)})) == ids(first)


def test_paging(client, acme):
    apps = [AppFactory(workspace=acme) for _ in range(5)]
    newest_first = [str(a.id) for a in reversed(apps)]
    pages = [
        client.get(URL, {"workspace_id": str(acme.id), "limit": 2, "page": p}).json()
        for p in (1, 2, 3, 4)
    ]
    assert [p["data"] and [r["id"] for r in p["data"]] for p in pages[:3]] == [
        newest_first[0:2],
        newest_first[2:4],
        newest_first[4:5],
    ]
    assert [p["has_more"] for p in pages] == [True, True, False, False]
    assert all(p["total"] == 5 and p["limit"] == 2 for p in pages)
    assert pages[3]["data"] == [] and pages[3]["page"] == 4


def test_default_and_maximum_limit(client, acme):
    for _ in range(21):
        AppFactory(workspace=acme)
    default = client.get(URL, {"workspace_id": str(acme.id)}).json()
    assert (default["limit"], len(default["data"]), default["has_more"]) == (20, 20, True)
    biggest = client.get(URL, {"workspace_id": str(acme.id), "limit": MAX_PAGE_LIMIT}).json()
    assert (biggest["limit"], len(biggest["data"]), biggest["has_more"]) == (200, 21, False)


def test_page_far_past_the_end_is_empty(client, acme):
    AppFactory(workspace=acme)
    body = client.get(URL, {"workspace_id": str(acme.id), "page": 10**30, "limit": 200}).json()
    assert body["data"] == [] and body["total"] == 1 and body["has_more"] is False


@pytest.mark.parametrize(
    ("param", "value"),
    [
        ("page", "0"),
        ("page", "-1"),
        ("page", "abc"),
        ("page", ""),
        ("limit", "0"),
        ("limit", "-1"),
        ("limit", "201"),
        ("limit", "abc"),
        ("limit", "1.5"),
    ],
)
def test_paging_bounds_are_422(client, acme, param, value):
    response = client.get(URL, {"workspace_id": str(acme.id), param: value})
    body = assert_envelope(response, 422, code="invalid_param")
    assert body["message"].startswith(f"{param}:")
    assert body["details"][0]["loc"] == [param]


@pytest.mark.parametrize("mode", [m.value for m in AppMode])
def test_mode_filter(client, acme, mode):
    by_mode = {m.value: AppFactory(workspace=acme, mode=m.value) for m in AppMode}
    response = client.get(URL, {"workspace_id": str(acme.id), "mode": mode})
    assert ids(response) == [str(by_mode[mode].id)]
    assert response.json()["total"] == 1


def test_mode_agent_selects_agent_chat_apps(client, acme):
    agent = AppFactory(workspace=acme, mode=AppMode.AGENT_CHAT)
    AppFactory(workspace=acme, mode=AppMode.CHAT)
    AppFactory(workspace=acme, mode=AppMode.ADVANCED_CHAT)
    response = client.get(URL, {"workspace_id": str(acme.id), "mode": "agent"})
    assert response.status_code == 200
    assert ids(response) == [str(agent.id)]
    assert response.json()["data"][0]["mode"] == "agent-chat"


@pytest.mark.parametrize(
    "mode",
    # Every value some client build offers for ``get app --mode`` (client.md §4.7).
    [
        "completion",
        "chat",
        "advanced-chat",
        "workflow",
        "agent-chat",
        "agent",
        "channel",
        "rag-pipeline",
    ],
)
def test_every_mode_a_client_sends_is_accepted(client, acme, mode):
    response = client.get(URL, {"workspace_id": str(acme.id), "mode": mode})
    assert response.status_code == 200, response.content


def test_unknown_mode_is_422_without_echo(client, acme):
    response = client.get(URL, {"workspace_id": str(acme.id), "mode": "agent-xyzzy"})
    body = assert_envelope(response, 422, code="invalid_param")
    assert body["message"].startswith("mode:")
    assert "xyzzy" not in body["message"]


def test_blank_filters_are_no_filters(client, acme):
    app = AppFactory(workspace=acme)
    response = client.get(URL, {"workspace_id": str(acme.id), "mode": "", "name": "", "tag": ""})
    assert ids(response) == [str(app.id)]


def test_name_is_a_case_insensitive_substring(client, acme):
    bot = AppFactory(workspace=acme, name="Support Bot")
    AppFactory(workspace=acme, name="Echo Workflow")
    for query in ("support", "BOT", "t B", "Support Bot"):
        assert ids(client.get(URL, {"workspace_id": str(acme.id), "name": query})) == [
            str(bot.id)
        ], query
    assert ids(client.get(URL, {"workspace_id": str(acme.id), "name": "missing"})) == []


def test_name_filter_folds_case_beyond_ascii(client, acme):
    app = AppFactory(workspace=acme, name="Émile Über")
    AppFactory(workspace=acme, name="Echo")
    for query in ("émile", "ÉMILE", "über", "ÜBER", "e ü"):
        assert ids(client.get(URL, {"workspace_id": str(acme.id), "name": query})) == [
            str(app.id)
        ], query


def test_name_uses_only_its_first_30_characters(client, acme):
    long_name = "A" * 30 + "-suffix"
    app = AppFactory(workspace=acme, name=long_name)
    query = "a" * 30 + " but then something else entirely"
    assert ids(client.get(URL, {"workspace_id": str(acme.id), "name": query})) == [str(app.id)]


def test_name_wildcards_are_literal(client, acme):
    percent = AppFactory(workspace=acme, name="50% off")
    underscore = AppFactory(workspace=acme, name="snake_case")
    AppFactory(workspace=acme, name="500 off")
    AppFactory(workspace=acme, name="snakeXcase")
    assert ids(client.get(URL, {"workspace_id": str(acme.id), "name": "0%"})) == [str(percent.id)]
    assert ids(client.get(URL, {"workspace_id": str(acme.id), "name": "e_c"})) == [
        str(underscore.id)
    ]


def test_name_longer_than_200_is_422(client, acme):
    response = client.get(URL, {"workspace_id": str(acme.id), "name": "x" * 201})
    assert_envelope(response, 422, code="invalid_param")


def test_name_that_is_a_uuid_looks_up_that_app(client, acme):
    target = AppFactory(workspace=acme, name="Target")
    AppFactory(workspace=acme)
    response = client.get(
        URL, {"workspace_id": str(acme.id), "name": str(target.id).upper(), "page": 4, "limit": 9}
    )
    assert response.json()["page"] == 1 and response.json()["limit"] == 1
    assert response.json()["total"] == 1 and response.json()["has_more"] is False
    assert ids(response) == [str(target.id)]


def test_name_uuid_still_honours_mode_and_tag(client, acme):
    app = AppFactory(workspace=acme, mode=AppMode.CHAT, tags=["prod"])
    base = {"workspace_id": str(acme.id), "name": str(app.id)}
    assert ids(client.get(URL, {**base, "mode": "chat", "tag": "prod"})) == [str(app.id)]
    assert ids(client.get(URL, {**base, "mode": "workflow"})) == []
    assert ids(client.get(URL, {**base, "tag": "beta"})) == []


@pytest.mark.parametrize("kind", ["unknown", "other_workspace", "service_off", "archived"])
def test_name_uuid_of_an_invisible_app_is_an_empty_page(client, acme, kind):
    app_id = {
        "unknown": lambda: uuid.uuid4(),
        "other_workspace": lambda: AppFactory(workspace=WorkspaceFactory()).id,
        "service_off": lambda: AppFactory(workspace=acme, enable_api=False).id,
        "archived": lambda: AppFactory(workspace=acme, status=App.Status.ARCHIVED).id,
    }[kind]()
    response = client.get(
        URL, {"workspace_id": str(acme.id), "name": str(app_id), "page": 2, "limit": 5}
    )
    assert response.status_code == 200
    assert response.json() == {"page": 2, "limit": 5, "total": 0, "has_more": False, "data": []}


def test_tag_is_an_exact_name(client, acme):
    prod = AppFactory(workspace=acme, tags=["prod", "beta"])
    AppFactory(workspace=acme, tags=["production"])
    AppFactory(workspace=acme, tags=["Prod"])
    AppFactory(workspace=acme)
    response = client.get(URL, {"workspace_id": str(acme.id), "tag": "prod"})
    assert ids(response) == [str(prod.id)]
    # The row still lists every tag of the app, not only the one filtered on.
    assert response.json()["data"][0]["tags"] == [{"name": "beta"}, {"name": "prod"}]
    assert response.json()["total"] == 1


def test_unknown_tag_is_an_empty_page(client, acme):
    AppFactory(workspace=acme, tags=["prod"])
    other = WorkspaceFactory()
    AppFactory(workspace=other, tags=["elsewhere"])
    for tag in ("nope", "elsewhere"):
        response = client.get(URL, {"workspace_id": str(acme.id), "tag": tag})
        assert response.status_code == 200
        assert response.json()["data"] == [] and response.json()["total"] == 0


def test_filters_combine(client, acme):
    match = AppFactory(workspace=acme, name="Echo Chat", mode=AppMode.ADVANCED_CHAT, tags=["demo"])
    AppFactory(workspace=acme, name="Echo Workflow", mode=AppMode.WORKFLOW, tags=["demo"])
    AppFactory(workspace=acme, name="Echo Chat copy", mode=AppMode.ADVANCED_CHAT)
    response = client.get(
        URL, {"workspace_id": str(acme.id), "name": "echo", "mode": "advanced-chat", "tag": "demo"}
    )
    assert ids(response) == [str(match.id)]


def test_unknown_query_parameters_are_ignored(client, acme):
    app = AppFactory(workspace=acme)
    response = client.get(URL, {"workspace_id": str(acme.id), "colour": "blue"})
    assert ids(response) == [str(app.id)]


def test_workspace_id_is_required(client):
    body = assert_envelope(client.get(URL), 422, code="invalid_param")
    assert "workspace_id" in body["message"]
    assert body["details"][0]["loc"] == ["workspace_id"]


@pytest.mark.parametrize("value", ["acme", "123", "not-a-uuid", ""])
def test_malformed_workspace_id_is_422(client, value):
    body = assert_envelope(client.get(URL, {"workspace_id": value}), 422, code="invalid_param")
    assert body["message"].startswith("workspace_id:")
    assert value not in body["message"] or not value


def test_member_can_list(bob, acme, api, token_for):
    app = AppFactory(workspace=acme)
    response = api(token_for(bob)).get(URL, {"workspace_id": str(acme.id)})
    assert ids(response) == [str(app.id)]


def test_non_member_is_403_membership_revoked(charlie, acme, api, token_for):
    AppFactory(workspace=acme)
    response = api(token_for(charlie)).get(URL, {"workspace_id": str(acme.id)})
    assert_envelope(response, 403, code="forbidden", message="workspace_membership_revoked")


def test_unknown_workspace_is_403_like_a_foreign_one(client):
    response = client.get(URL, {"workspace_id": str(uuid.uuid4())})
    assert_envelope(response, 403, message="workspace_membership_revoked")


def test_removed_membership_takes_effect_at_once(bob, acme, api, token_for):
    client = api(token_for(bob))
    assert client.get(URL, {"workspace_id": str(acme.id)}).status_code == 200
    bob.memberships.all().delete()
    assert_envelope(
        client.get(URL, {"workspace_id": str(acme.id)}), 403, message="workspace_membership_revoked"
    )


def test_external_subject_is_wrong_surface(api, sso_token, acme):
    response = api(sso_token).get(URL, {"workspace_id": str(acme.id)})
    assert_envelope(
        response, 403, message="wrong_surface (canonical: /openapi/v1/permitted-external-apps)"
    )


def test_without_token_is_401(api, acme):
    assert_envelope(api().get(URL, {"workspace_id": str(acme.id)}), 401, code="unauthorized")


def test_trailing_slash_is_the_envelope_404(client, acme):
    assert_envelope(client.get(URL + "/", {"workspace_id": str(acme.id)}), 404)


def _list_queries(client, acme) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(URL, {"workspace_id": str(acme.id), "limit": 200}).status_code == 200
    return len(ctx.captured_queries)


def test_no_n_plus_one(client, acme, alice, django_assert_max_num_queries):
    make_prompt_app(acme, author=alice, tags=["a"])
    _list_queries(client, acme)  # the first request of a token also records its last use
    one = _list_queries(client, acme)
    others = [_tagged_app(acme, alice, n) for n in range(15)]
    assert len(others) == 15
    assert _list_queries(client, acme) == one
    with django_assert_max_num_queries(8):
        client.get(URL, {"workspace_id": str(acme.id), "tag": "t0"})


def _tagged_app(acme, alice, n):
    return AppFactory(workspace=acme, author=alice, tags=[f"t{n}", "shared"])


# The bearer lookup, the membership check, the count behind ``total``, the page, its tags.
APPS_LIST_QUERIES = 5


@pytest.mark.parametrize("rows", [3, 30])
def test_query_count_does_not_grow_with_apps(client, acme, alice, rows, django_assert_num_queries):
    for n in range(rows):
        _tagged_app(acme, alice, n)
    client.get(URL, {"workspace_id": str(acme.id)})  # the first request also records last use
    with django_assert_num_queries(APPS_LIST_QUERIES):
        body = client.get(URL, {"workspace_id": str(acme.id), "limit": 50}).json()
    assert body["total"] == rows and len(body["data"]) == rows


@pytest.mark.shared_services
def test_total_and_page_can_be_read_from_the_servable_index(client, acme, alice):
    """The partial index matches the list's visibility filter: the page is read in index order
    (no sort of every app) and the count is an index-only count of one workspace's entries."""
    from tests.plans import plans_with_only

    other = WorkspaceFactory()
    App.objects.bulk_create(
        App(workspace=ws, name=f"bulk {n}", mode=AppMode.CHAT)
        for ws in (acme, other)
        for n in range(50)
    )
    client.get(URL, {"workspace_id": str(acme.id)})
    with CaptureQueriesContext(connection) as captured:
        client.get(URL, {"workspace_id": str(acme.id)})
    count_sql = next(q["sql"] for q in captured.captured_queries if "COUNT(*)" in q["sql"])
    page_sql = next(q["sql"] for q in captured.captured_queries if "ORDER BY" in q["sql"])
    count_plan, page_plan = plans_with_only(
        "apps_runtime_app", ["app_servable_page_idx"], [count_sql, page_sql]
    )
    assert "Index Only Scan using app_servable_page_idx" in count_plan
    assert "Index Scan using app_servable_page_idx" in page_plan
    assert "Sort" not in page_plan
