"""PostgreSQL plans of captured queries, for tests that pin which index serves a query.

On a test-sized table the planner picks whichever index is cheapest that moment, so a test that
asks "can this index serve this query" (its partial predicate implied by the query's filter, its
column order giving the ORDER BY) plans the query with sequential and bitmap scans off and with
only the named indexes on the table. The indexes are dropped inside a transaction rolled back
at the end, so nothing outlives the call.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import connection, transaction

_DROPPABLE = """
    SELECT i.relname FROM pg_index x
    JOIN pg_class i ON i.oid = x.indexrelid
    JOIN pg_class t ON t.oid = x.indrelid
    LEFT JOIN pg_constraint c ON c.conindid = x.indexrelid
    WHERE t.relname = %s AND c.oid IS NULL
"""


def plans_with_only(table: str, keep: Iterable[str], queries: Iterable[str]) -> list[str]:
    """The EXPLAIN text of each of ``queries`` with only ``keep`` (and constraint indexes)."""
    keep = set(keep)
    plans = []
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(_DROPPABLE, [table])
        names = {name for (name,) in cursor.fetchall()}
        assert keep <= names, f"missing indexes on {table}: {sorted(keep - names)}"
        for name in sorted(names - keep):
            cursor.execute(f'DROP INDEX "{name}"')
        cursor.execute(f'ANALYZE "{table}"')
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_bitmapscan = off")
        for sql in queries:
            cursor.execute("EXPLAIN " + sql)
            plans.append("\n".join(row[0] for row in cursor.fetchall()))
        transaction.set_rollback(True)
    return plans
