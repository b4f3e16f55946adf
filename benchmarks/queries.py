"""Queries per request and their plans (run by ``benchmarks.run`` against the bench database).

Reads ``[[label, path, token], …]`` as JSON from stdin, calls each path once in-process (after one
warm-up call) and prints, per path, the number of queries and the tables any plan reads with a
sequential scan (``EXPLAIN`` of each captured query on PostgreSQL).
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
    return {
        "status": response.status_code,
        "queries": len(captured.captured_queries),
        "seq_scans": sorted(seq_scans),
    }


if __name__ == "__main__":
    calls = json.load(sys.stdin)
    print(json.dumps({label: measure(path, token) for label, path, token in calls}))
