"""Start-up validation: a bad environment value stops the server and names the variable."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _check(*argv: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    base.update({"SECRET_KEY": "x" * 40, "TESTING": "0", **env})
    return subprocess.run(
        [sys.executable, *(argv or ("manage.py", "check"))],
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
        ("RUN_EXECUTOR", "processes"),
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


POSTGRES = "postgres://postgres@127.0.0.1:5432/unused"
REDIS = "redis://127.0.0.1:6379/0"
WORKER = ("-m", "celery", "-A", "config", "worker", "-Q", "runs")


@pytest.mark.parametrize(
    "argv, env",
    [
        ((), {}),
        ((), {"DATABASE_URL": POSTGRES}),
        ((), {"REDIS_URL": REDIS}),
        (WORKER, {"REDIS_URL": REDIS}),
    ],
)
def test_the_celery_executor_needs_postgresql_and_redis(argv, env):
    """Issue 17: a server or a worker with RUN_EXECUTOR=celery refuses to start without both, in
    one line naming the settings."""
    result = _check(*argv, RUN_EXECUTOR="celery", **env)
    assert result.returncode != 0
    message = result.stderr.strip()
    assert "\n" not in message and "Traceback" not in message, message
    assert "RUN_EXECUTOR" in message and "DATABASE_URL" in message and "REDIS_URL" in message


def test_a_worker_refuses_to_start_without_the_celery_executor():
    result = _check(*WORKER, RUN_EXECUTOR="thread", DATABASE_URL=POSTGRES, REDIS_URL=REDIS)
    assert result.returncode != 0
    message = result.stderr.strip()
    assert "\n" not in message and "RUN_EXECUTOR" in message and "celery" in message, message
