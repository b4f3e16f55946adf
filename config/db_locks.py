"""Transaction-scoped locks on a name, for writes whose conflict is a row that does not exist yet.

PostgreSQL: ``pg_advisory_xact_lock`` on a 64-bit hash of the name, released at commit or
rollback. SQLite: nothing to do — every write transaction starts with ``BEGIN IMMEDIATE``
(settings), which already serialises writers.
"""

from __future__ import annotations

import hashlib

from django.db import connection


def lock_name(name: str) -> None:
    """Hold a lock on ``name`` until the current transaction ends (call inside ``atomic``)."""
    if connection.vendor != "postgresql":
        return
    key = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [key])
