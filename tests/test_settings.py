"""Start-up validation: a bad environment value stops the server and names the variable."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _check(**env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    base.update({"SECRET_KEY": "x" * 40, "TESTING": "0", **env})
    return subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env=base,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    "name, value",
    [
        ("DB_POOL_MAX", "many"),
        ("OAUTH_TTL_DAYS", "0"),
        ("OAUTH_TTL_DAYS", "366"),
        ("DEBUG", "maybe"),
        ("DATABASE_URL", "mysql://root@localhost/db"),
        ("REDIS_URL", "http://127.0.0.1:6379"),
        ("OPENAPI_RATE_LIMIT_PER_TOKEN", "-1"),
        ("PUBLIC_BASE_URL", "ftp://example.com"),
        ("SECRETS_ENCRYPTION_KEY", "not-a-fernet-key"),
        ("LOG_LEVEL", "LOUD"),
    ],
)
def test_bad_value_stops_start_up_naming_the_variable(name, value):
    result = _check(**{name: value})
    assert result.returncode != 0
    assert name in result.stderr
    assert "Traceback" not in result.stderr


# Without SECRET_KEY and without .secret_key: tests/test_operator_path.py (a fresh copy).


def test_defaults_start():
    result = _check()
    assert result.returncode == 0, result.stderr
