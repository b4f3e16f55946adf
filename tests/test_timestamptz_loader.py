"""Timestamps from PostgreSQL read back exactly as Django's own loader reads them, through ours
(``config.postgres.base.UtcTimestamptzLoader``, which parses in C): same instant, same ``tzinfo``,
same errors for what Python cannot hold."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from django.db import connection
from django.db.backends.postgresql.psycopg_any import register_tzloader
from django.utils import timezone
from psycopg.pq import Format

from accounts.models import AccessToken
from config.postgres.base import TIMESTAMPTZ_OID, UtcTimestamptzLoader

pytestmark = pytest.mark.django_db

LITERALS = [
    "2026-11-29 21:00:00+00",
    "2026-11-29 21:00:00.5+00",
    "2026-11-29 21:00:00.120000+00",
    "2026-11-29 21:00:00.000001+00",
    "2026-06-01 12:34:56.789+05:30",
    "1969-12-31 23:59:59.999999-08",
    "0001-01-01 00:00:00+00",
    "9999-12-31 23:59:59.999999+00",
    "2024-02-29 00:00:00+00",
]
UNREADABLE = ["infinity", "-infinity", "0044-03-15 12:00:00+00 BC"]


@pytest.fixture(autouse=True)
def _postgresql_only() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("the loader is PostgreSQL's")


def _read(literal: str, *, djangos: bool) -> datetime:
    connection.ensure_connection()
    cursor = psycopg.Cursor(connection.connection)
    if djangos:  # the loader Django itself registers for a UTC connection
        register_tzloader(UTC, cursor)
    with cursor:
        cursor.execute("SELECT %s::timestamptz", [literal])
        row = cursor.fetchone()
        assert row is not None
        return row[0]  # type: ignore[no-any-return]


def test_connections_load_timestamps_with_ours() -> None:
    """Otherwise the comparisons below would compare Django's loader with itself."""
    connection.ensure_connection()
    loader = connection.connection.adapters.get_loader(TIMESTAMPTZ_OID, Format.TEXT)
    assert loader is UtcTimestamptzLoader


@pytest.mark.parametrize("literal", LITERALS)
def test_each_timestamp_reads_as_django_reads_it(literal: str) -> None:
    ours, djangos = _read(literal, djangos=False), _read(literal, djangos=True)
    assert ours == djangos
    assert ours.tzinfo is UTC and djangos.tzinfo is UTC
    assert ours == datetime.fromisoformat(literal)  # the instant PostgreSQL was given


@pytest.mark.parametrize("literal", UNREADABLE)
def test_what_python_cannot_hold_fails_as_with_djangos_loader(literal: str) -> None:
    with pytest.raises(psycopg.DataError) as djangos:
        _read(literal, djangos=True)
    with pytest.raises(psycopg.DataError) as ours:
        _read(literal, djangos=False)
    assert str(ours.value) == str(djangos.value)


def test_model_fields_round_trip_to_the_microsecond(alice: object) -> None:
    created = timezone.now().replace(microsecond=120000) - timedelta(days=3)
    expires = datetime(2031, 1, 2, 3, 4, 5, 6, tzinfo=UTC)
    token = AccessToken.objects.create(
        subject_type=AccessToken.SubjectType.ACCOUNT,
        subject_email="alice@example.com",
        subject_issuer="dify:account",
        account=alice,
        client_id="difyctl",
        device_label="loader",
        prefix="dfoa_",
        token_hash="0" * 64,
        expires_at=expires,
    )
    AccessToken.objects.filter(pk=token.pk).update(created_at=created)
    row = AccessToken.objects.values_list("created_at", "expires_at").get(pk=token.pk)
    assert row == (created, expires)
    assert all(value.tzinfo is UTC for value in row)
