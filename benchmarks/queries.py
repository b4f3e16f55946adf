"""Queries per request and their plans (run by ``benchmarks.run`` against the bench database).

Reads ``[[label, path, token], …]`` as JSON from stdin, calls each path once in-process (after one
warm-up call) and prints, per path, the number of queries and the tables any plan reads with a
sequential scan (``EXPLAIN`` of each captured query on PostgreSQL).

The tables are vacuumed and analyzed first, as autovacuum would have done to a table that grew to
this size: on freshly bulk-inserted rows without statistics the planner picks sequential scans
whatever the indexes, and without a visibility map it cannot plan an index-only count. A sequential
scan counts (``seq_scans``) on a table of at least BIG_TABLE_ROWS rows; on a smaller table (a
handful of accounts or workspaces) it is the cheapest plan and is listed apart
(``small_seq_scans``).
"""

from __future__ import annotations

import json
import os
import re
import sys

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django.setup()

from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

_SEQ = re.compile(r"Seq Scan on (\w+)")
BIG_TABLE_ROWS = 1000


def vacuum_analyze() -> None:
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute("VACUUM (ANALYZE)")


def table_rows(tables: set[str]) -> dict[str, int]:
    if not tables:
        return {}
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname, reltuples FROM pg_class WHERE relname = ANY(%s)", [sorted(tables)]
        )
        return {name: int(rows) for name, rows in cursor.fetchall()}


def measure(path: str, token: str) -> dict[str, object]:
    client = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
    client.get(path)
    with CaptureQueriesContext(connection) as captured:
        response = client.get(path)
    seq_scans: set[str] = set()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            for query in captured.captured_queries:
                sql = query["sql"]
                if not sql.lstrip().upper().startswith("SELECT"):
                    continue
                cursor.execute("EXPLAIN " + sql)
                plan = "\n".join(row[0] for row in cursor.fetchall())
                seq_scans.update(_SEQ.findall(plan))
    rows = table_rows(seq_scans)
    return {
        "status": response.status_code,
        "queries": len(captured.captured_queries),
        "seq_scans": sorted(t for t in seq_scans if rows.get(t, 0) >= BIG_TABLE_ROWS),
        "small_seq_scans": sorted(t for t in seq_scans if rows.get(t, 0) < BIG_TABLE_ROWS),
    }


if __name__ == "__main__":
    calls = json.load(sys.stdin)
    vacuum_analyze()
    print(json.dumps({label: measure(path, token) for label, path, token in calls}))
