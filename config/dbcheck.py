"""One line naming why the database cannot be reached (issue 22: not a pool timeout's traceback).

The connection pool reports only "couldn't get a connection after 10.00 sec"; a direct connection
with the same settings gets the server's or the network's own words.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from django.conf import settings


def safe_url(url: str) -> str:
    """``url`` without its password."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc}"))


def preflight() -> str | None:
    """Before a command: one line when ``DATABASE_URL`` is set and cannot be reached, else None.

    Checked with one direct connection so that the pool's ten-second wait and its warnings never
    come first."""
    if not settings.DATABASE_URL:
        return None
    try:
        import psycopg

        psycopg.connect(settings.DATABASE_URL, connect_timeout=5).close()
    except Exception as exc:
        where = safe_url(settings.DATABASE_URL)
        return f"cannot connect to the database at DATABASE_URL={where}: {first_line(exc)}"
    return None


def unreachable_reason(error: BaseException) -> str:
    """One line: which database, and why a connection to it fails."""
    if not settings.DATABASE_URL:
        return f"database error: {first_line(error)}"
    reason = preflight()
    if reason:
        return reason
    return f"database error at DATABASE_URL={safe_url(settings.DATABASE_URL)}: {first_line(error)}"


def first_line(error: BaseException) -> str:
    text = str(error).strip() or type(error).__name__
    return " ".join(line.strip() for line in text.splitlines() if line.strip())[:400]
