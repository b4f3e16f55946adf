"""``CompiledQuery`` answers as the ORM does, sees each write at once, refuses what it cannot do."""

from __future__ import annotations

import uuid

import pytest
from django.db import connection
from django.db.models import Count
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import AccessToken
from accounts.tokens import token_digest
from config.compiled_query import CompiledQuery
from workspaces.models import Membership, Workspace


def _memberships(account_id):
    return (
        Membership.objects.filter(account_id=account_id)
        .select_related("workspace")
        .order_by("workspace__created_at", "workspace_id")
    )


MEMBERSHIPS = CompiledQuery(_memberships, uuid.UUID(int=0))
TOKEN = CompiledQuery(
    lambda digest: AccessToken.objects.select_related("account").filter(
        token_hash=digest, revoked_at__isnull=True
    )[:1],
    "<digest>",
)


def _fields(obj):
    return {f.attname: getattr(obj, f.attname) for f in obj._meta.concrete_fields}


def test_same_rows_and_related_objects_as_the_orm(
    alice, bob, charlie, acme, django_assert_num_queries
):
    other = Workspace.objects.create(name="Other")
    Membership.objects.create(workspace=other, account=alice, role="normal")
    expected = list(_memberships(alice.pk))
    with django_assert_num_queries(1):
        got = MEMBERSHIPS.run(alice.pk)
        # select_related objects are filled: no query to reach the workspace.
        names = [m.workspace.name for m in got]
    assert [_fields(m) for m in got] == [_fields(m) for m in expected]
    assert [_fields(m.workspace) for m in got] == [_fields(m.workspace) for m in expected]
    assert names == ["Acme", "Other"]
    assert all(not m._state.adding and m._state.db == "default" for m in got)
    assert [m.account_id for m in MEMBERSHIPS.run(bob.pk)] == [bob.pk]
    assert MEMBERSHIPS.run(uuid.uuid4()) == []


def test_every_call_runs_the_query_so_writes_show_at_once(alice, token_for):
    raw = token_for(alice)
    digest = token_digest(raw)
    token = TOKEN.first(digest)
    assert token is not None and token.account == alice
    assert token.expires_at.tzinfo is not None  # converters applied (SQLite keeps text)
    with CaptureQueriesContext(connection) as queries:
        AccessToken.objects.filter(pk=token.pk).update(revoked_at=timezone.now())
        assert TOKEN.first(digest) is None
    assert len(queries) == 2


def test_placeholders_must_appear_exactly_once():
    twice = CompiledQuery(
        lambda h: AccessToken.objects.filter(token_hash=h) | AccessToken.objects.filter(prefix=h),
        "<same>",
    )
    with pytest.raises(ValueError, match="placeholder"):
        twice.run("x")
    absent = CompiledQuery(lambda h: AccessToken.objects.all(), "<absent>")
    with pytest.raises(ValueError, match="placeholder"):
        absent.run("x")


def test_annotations_are_set_on_each_object_as_the_orm_sets_them(alice, bob, acme):
    other = Workspace.objects.create(name="Other")
    Membership.objects.create(workspace=other, account=alice, role="normal")

    def counted(name):
        return Workspace.objects.exclude(name=name).annotate(n=Count("memberships"))

    annotated = CompiledQuery(lambda h: counted(h).order_by("name"), "<name>")
    expected = [(w.name, w.n) for w in counted("").order_by("name")]
    assert expected == [("Acme", 2), ("Other", 1)]  # alice and bob; charlie is not here
    assert [(w.name, w.n) for w in annotated.run("")] == expected
    assert [(w.name, w.n) for w in annotated.run("Acme")] == [("Other", 1)]


def test_postgresql_prepares_the_statement_once_per_connection(alice, token_for):
    if connection.vendor != "postgresql":
        pytest.skip("prepared statements are PostgreSQL's")
    digest = token_digest(token_for(alice))
    for _ in range(3):
        assert TOKEN.first(digest).account == alice
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %s",
            ['%FROM "accounts_accesstoken"%'],
        )
        assert cursor.fetchone()[0] == 1
    with CaptureQueriesContext(connection) as queries:
        TOKEN.first(digest)
    assert f"'{digest}'" in queries[0]["sql"]  # logged with its values, as Django's own are
