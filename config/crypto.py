"""Encryption at rest for credentials we must present to others (decisions §3).

Values are sealed with Fernet under ``SECRETS_ENCRYPTION_KEY``. Without that setting a key is
derived from ``SECRET_KEY`` so a development server works; production sets its own key (rotating
``SECRET_KEY`` must not make stored credentials unreadable).
"""

from __future__ import annotations

import base64
import hashlib
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings

SEALED_PREFIX = "enc:v1:"


@lru_cache(maxsize=4)
def _fernet(key: str, fallback_secret: str) -> Fernet:
    if key:
        return Fernet(key.encode())
    derived = hashlib.sha256(f"secrets-box:{fallback_secret}".encode()).digest()
    return Fernet(base64.urlsafe_b64encode(derived))


def _box() -> Fernet:
    return _fernet(settings.SECRETS_ENCRYPTION_KEY, settings.SECRET_KEY)


def is_sealed(value: object) -> bool:
    return isinstance(value, str) and value.startswith(SEALED_PREFIX)


def seal(plaintext: str) -> str:
    """Encrypt ``plaintext`` (always: a plaintext that merely looks sealed is still plaintext)."""
    return SEALED_PREFIX + _box().encrypt(plaintext.encode()).decode()


def unseal(value: str) -> str:
    """Decrypt a sealed value; a plain value (never sealed) is returned as it is."""
    if not is_sealed(value):
        return value
    try:
        return _box().decrypt(value[len(SEALED_PREFIX) :].encode()).decode()
    except InvalidToken:
        raise ValueError("a stored secret cannot be decrypted with the configured key") from None
