"""One spelling of an identity (an email or account name) for everything that counts per identity.

Django's login form applies NFKC to the username and the account is then found case-insensitively,
so ``\\uff4dallory@example.com`` (fullwidth m), ``\\U0001d426allory@…`` (mathematical bold m) and
``MALLORY@example.com`` all sign in as ``mallory@example.com``. A limit keyed by the raw string
would give each of those spellings a fresh budget; keyed by :func:`identity_key` they share one.
"""

from __future__ import annotations

import unicodedata


def identity_key(value: str) -> str:
    """NFKC, Unicode case folding, NFKC again (folding can undo NFKC: the NFKC_Casefold form),
    then surrounding whitespace removed (NFKC turns the exotic spaces into plain ones)."""
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", value).casefold())
    return folded.strip()
