"""Typed reading of the environment.

Every setting the service reads from the environment goes through one of these helpers, so a bad
value stops start-up with a message that names the variable instead of failing later.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlparse

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _raw(name: str) -> str | None:
    value = os.environ.get(name)
    return None if value is None else value.strip()


def env_str(name: str, default: str = "") -> str:
    value = _raw(name)
    return default if value is None or value == "" else value


def env_secret(name: str, key_file: Path) -> str:
    """A secret from the environment, else from ``key_file`` (one line, as ``make run`` writes it).

    Every process started from the checkout (the server, ``manage.py`` commands, cron) then uses
    the same key without exporting anything.
    """
    value = env_str(name)
    if value:
        return value
    try:
        return key_file.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return ""
    except OSError as exc:
        raise ImproperlyConfigured(
            f"{name} is unset and {key_file} cannot be read: {exc}"
        ) from None


CHECKOUT = Path(__file__).resolve().parent.parent


def env_file_path() -> Path:
    """``ENV_FILE`` when set, else ``.env`` in the checkout."""
    named = env_str("ENV_FILE")
    return Path(named) if named else CHECKOUT / ".env"


def load_env_file(path: Path) -> dict[str, str]:
    """The checkout's configuration file (``.env``: ``KEY=value`` lines, python-dotenv's syntax)
    into ``os.environ``, under what the environment already sets; returns the file's values.

    Every process started from the checkout (the server, ``make serve-prod``, ``make worker``,
    ``manage.py`` commands) reads it, so they all use one configuration (issue 22).
    """
    if not path.is_file():
        return {}
    from dotenv import dotenv_values

    try:
        values = {key: value for key, value in dotenv_values(path).items() if value is not None}
    except (OSError, UnicodeDecodeError) as exc:
        raise ImproperlyConfigured(f"{path} cannot be read: {exc}") from None
    for key, value in values.items():
        os.environ.setdefault(key, value)
    return values


def env_bool(name: str, default: bool = False) -> bool:
    value = _raw(name)
    if value is None:
        return default
    lowered = value.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (true/false), got {value!r}")


def env_int(
    name: str, default: int, *, minimum: int | None = None, maximum: int | None = None
) -> int:
    value = _raw(name)
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, got {value!r}") from None
    if minimum is not None and number < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, got {number}")
    if maximum is not None and number > maximum:
        raise ImproperlyConfigured(f"{name} must be at most {maximum}, got {number}")
    return number


def env_list(name: str, default: list[str]) -> list[str]:
    value = _raw(name)
    if value is None or value == "":
        return list(default)
    return [item.strip() for item in value.split(",") if item.strip()]


def env_url(name: str, *, schemes: tuple[str, ...]) -> str:
    """An optional URL whose scheme must be one of ``schemes``; empty string when unset."""
    value = env_str(name)
    if not value:
        return ""
    parsed = urlparse(value)
    if parsed.scheme not in schemes or not (parsed.netloc or parsed.path):
        allowed = ", ".join(schemes)
        raise ImproperlyConfigured(f"{name} must be a URL with scheme {allowed}")
    return value
