"""Token format: ``dfoa_``/``dfoe_`` + 43 base64url characters; only the SHA-256 hex is stored."""

from __future__ import annotations

import hashlib
import re
import secrets

ACCOUNT_PREFIX = "dfoa_"
EXTERNAL_PREFIX = "dfoe_"
TOKEN_RE = re.compile(r"^(dfoa_|dfoe_)[A-Za-z0-9_-]{43}$")


def generate_token(prefix: str) -> str:
    return prefix + secrets.token_urlsafe(32)


def token_digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def well_formed(raw: str) -> bool:
    return TOKEN_RE.fullmatch(raw) is not None
