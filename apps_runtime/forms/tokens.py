"""Form tokens: 22 characters from a 62-letter alphabet (131 bits from ``secrets``), the shape
Dify's tokens have on the wire; only the SHA-256 hex is stored (security requirement 24)."""

from __future__ import annotations

import hashlib
import re
import secrets
import string

ALPHABET = string.ascii_letters + string.digits
TOKEN_LENGTH = 22
TOKEN_RE = re.compile(rf"^[A-Za-z0-9]{{{TOKEN_LENGTH}}}$")


def token_mint() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(TOKEN_LENGTH))


def token_digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def token_well_formed(raw: str) -> bool:
    """A malformed token can name no form: callers answer 404 without a query."""
    return TOKEN_RE.fullmatch(raw) is not None


def token_masked(digest: str | None) -> str:
    """What the admin shows instead of a token: a digest prefix, enough to tell two apart."""
    return f"sha256:{digest[:8]}…" if digest else "—"
