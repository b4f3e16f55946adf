"""Device and user codes: generation, normalisation and digests (contract §5.2, decisions §4)."""

from __future__ import annotations

import hashlib
import re
import secrets

DEVICE_CODE_PREFIX = "dc_"
USER_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXY3456789"  # no I, O, Z, 0, 1, 2
USER_CODE_GROUP = 4
USER_CODE_RE = re.compile(rf"^[{USER_CODE_ALPHABET}]{{4}}-[{USER_CODE_ALPHABET}]{{4}}$")
# What people type between the groups or around the code: spaces, dashes of any kind.
_SEPARATORS = re.compile(r"[\s\-\u2010-\u2015\u2212]+")


def generate_device_code() -> str:
    """``dc_`` + 32 base64url characters (24 random bytes, 192 bits)."""
    return DEVICE_CODE_PREFIX + secrets.token_urlsafe(24)


def generate_user_code() -> str:
    chars = [secrets.choice(USER_CODE_ALPHABET) for _ in range(2 * USER_CODE_GROUP)]
    return "".join(chars[:USER_CODE_GROUP]) + "-" + "".join(chars[USER_CODE_GROUP:])


def device_code_digest(device_code: str) -> str:
    return hashlib.sha256(device_code.encode()).hexdigest()


def normalize_user_code(value: str | None) -> str | None:
    """``abcd efgh``, ``ABCDEFGH`` and `` abcd-efgh `` all become ``ABCD-EFGH``.

    Returns ``None`` for anything that cannot be a user code, so callers never query for it.
    """
    if not value:
        return None
    compact = _SEPARATORS.sub("", value).upper()
    if len(compact) != 2 * USER_CODE_GROUP:
        return None
    code = compact[:USER_CODE_GROUP] + "-" + compact[USER_CODE_GROUP:]
    return code if USER_CODE_RE.fullmatch(code) else None
