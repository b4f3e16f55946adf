"""Django's PostgreSQL backend whose pooled connections are checked when handed out.

After ``pg_terminate_backend`` or a server restart every idle connection in the pool is dead. The
pool's own check on checkout (``CONN_HEALTH_CHECKS``) finds them one at a time and backs off
between attempts (1 s, 2 s, 4 s …), so a request that meets several dead ones waits past the pool
timeout and fails. Here the first dead connection makes the pool sweep all its idle connections
at once (``ConnectionPool.check``), and the request takes a live or fresh one: a killed backend
costs no request an error.
"""

from __future__ import annotations

import logging
from typing import Any

import psycopg
from django.db.backends.postgresql import base
from psycopg_pool import ConnectionPool

logger = logging.getLogger("difyapi.db")


class DatabaseWrapper(base.DatabaseWrapper):  # type: ignore[misc]
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
