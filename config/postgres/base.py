"""Django's PostgreSQL backend, with cheaper and sturdier connection checks.

Pooled connections (daphne, ``make run``) are checked when handed out. After
``pg_terminate_backend`` or a server restart every idle connection in the pool is dead. The pool's
own check on checkout (``CONN_HEALTH_CHECKS``) finds them one at a time and backs off between
attempts (1 s, 2 s, 4 s …), so a request that meets several dead ones waits past the pool timeout
and fails. Here the first dead connection makes the pool sweep all its idle connections at once
(``ConnectionPool.check``), and the request takes a live or fresh one: a killed backend costs no
request an error.

Persistent connections (the WSGI workers of ``make serve-prod``, ``CONN_HEALTH_CHECKS``) are checked
at the start of each request that uses the database. Django's check is a ``SELECT 1`` round trip,
a third of the database work of a bearer ``GET /account``. An idle connection receives nothing
unless the server is closing it (it sends a FATAL error, then end of file), so here a connection
with nothing to read is taken as alive after one ``poll(2)``, and anything readable gets the full
round trip.
"""

from __future__ import annotations

import functools
import logging
import select
from datetime import UTC, datetime
from typing import Any

import psycopg
from django.db.backends.postgresql import base, operations
from django.db.backends.postgresql.psycopg_any import BaseTzLoader, register_tzloader
from psycopg.adapt import AdaptersMap
from psycopg.pq import Format, TransactionStatus
from psycopg_pool import ConnectionPool

logger = logging.getLogger("difyapi.db")

TIMESTAMPTZ_OID = psycopg.adapters.types["timestamptz"].oid
_READABLE = select.POLLIN | select.POLLPRI | select.POLLERR | select.POLLHUP


class UtcTimestamptzLoader(BaseTzLoader):  # type: ignore[misc]
    """Django's ``timestamptz`` loader for a connection in UTC, parsing in C.

    Django's loader parses each value in Python (psycopg's pure-Python parser: it cannot use the C
    one, which it must subclass), about a fifth of the CPU of a page of 100 sessions. PostgreSQL's
    ISO output (``2026-11-29 21:00:00.123456+00``) is what ``datetime.fromisoformat`` reads; the
    result is the same aware UTC datetime. Anything else (BC years, ``infinity``) goes to
    Django's loader, which decides as before.
    """

    timezone = UTC

    def load(self, data: Any) -> datetime:
        try:
            value = datetime.fromisoformat(str(data, "ascii"))
        except ValueError:
            return super().load(data)  # type: ignore[no-any-return]
        return value if value.tzinfo is UTC else value.astimezone(UTC)


@functools.lru_cache
def _utc_adapters(template: AdaptersMap) -> AdaptersMap:
    adapters = AdaptersMap(template)
    adapters.register_loader("timestamptz", UtcTimestamptzLoader)
    return adapters


class DatabaseOperations(operations.DatabaseOperations):  # type: ignore[misc]
    def last_executed_query(self, cursor: Any, sql: str, params: Any) -> str:
        # Logged queries only (DEBUG, tests): Django reads a client-binding cursor's own text; a
        # prepared_cursor() holds $1 placeholders, so compose the query as the client would.
        if not isinstance(cursor, psycopg.ClientCursor):
            return str(self.compose_sql(sql, params))
        return super().last_executed_query(cursor, sql, params)  # type: ignore[no-any-return]


class DatabaseWrapper(base.DatabaseWrapper):  # type: ignore[misc]
    ops_class = DatabaseOperations

    def get_connection_params(self) -> dict[str, Any]:
        params = super().get_connection_params()
        # Django turns psycopg's statement preparing off (for poolers in transaction mode; ours
        # are session connections). Only cursors that bind on the server prepare, and Django's
        # bind on the client: this prepares exactly the prepared_cursor() statements, at once.
        if params.get("prepare_threshold") is None:
            params["prepare_threshold"] = 0
        # Django's adapters load timestamptz in the connection's zone; for UTC, ours does the same
        # faster (the cursor-level check in create_cursor() still sees UTC and adds nothing).
        context = params.get("context")
        if context is not None and self.timezone is UTC:
            params["context"] = _utc_adapters(context)
        return params

    def get_new_connection(self, conn_params: dict[str, Any]) -> Any:
        connection = super().get_new_connection(conn_params)
        pool = getattr(self, "pool", None)  # django-stubs do not know the pool yet
        if pool is None:
            return connection
        try:
            ConnectionPool.check_connection(connection)
        except psycopg.Error:
            logger.warning("pooled database connection was dead; sweeping the pool")
            pool.putconn(connection)  # the pool discards a broken connection
            pool.check()
            return super().get_new_connection(conn_params)
        return connection

    def prepared_cursor(self) -> Any:
        """A cursor that binds parameters on the server and prepares its statements: PostgreSQL
        parses and plans each one once per connection, not on every run. Django's own cursors
        bind on the client (a new SQL text each time); ``config.compiled_query`` runs the hottest
        queries, whose SQL never changes, through this one."""
        self.close_if_health_check_failed()
        self.ensure_connection()
        with self.wrap_database_errors:
            cursor = psycopg.Cursor(self.connection)
            loader = self.connection.adapters.get_loader(TIMESTAMPTZ_OID, Format.TEXT)
            if self.timezone != loader.timezone:
                register_tzloader(self.timezone, cursor)
        return self._prepare_cursor(cursor)  # type: ignore[attr-defined]

    def is_usable(self) -> bool:
        connection = self.connection
        if connection is None or connection.closed:
            return False
        if connection.info.transaction_status == TransactionStatus.IDLE:
            poller = select.poll()
            poller.register(connection.fileno(), _READABLE)
            if not poller.poll(0):
                return True
        return bool(super().is_usable())
