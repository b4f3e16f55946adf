"""Run one piece of work in several threads at once (tests against PostgreSQL)."""

from __future__ import annotations

import threading
from collections.abc import Callable

from django.db import connection


def race(threads: int, work: Callable[[int], object]) -> list[BaseException]:
    """Start ``work(i)`` in ``threads`` threads behind a barrier; return what they raised."""
    barrier = threading.Barrier(threads)
    errors: list[BaseException] = []

    def run(index: int) -> None:
        try:
            barrier.wait(timeout=10)
            work(index)
        except BaseException as exc:  # surfaced in the test thread
            errors.append(exc)
        finally:
            connection.close()

    started = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    for thread in started:
        thread.start()
    for thread in started:
        thread.join(timeout=30)
    return errors
