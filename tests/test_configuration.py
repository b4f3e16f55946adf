"""One configuration for every process of the checkout (issue 22 item 2): ``.env`` (or the file
``ENV_FILE`` names) is read by every ``manage.py`` command and by ``make serve-prod`` /
``make worker`` (``config.serve``); a command that would fall back to the embedded SQLite while
that file names PostgreSQL stops and says so; an unreachable database is one line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DROPPED = ("DATABASE_URL", "REDIS_URL", "TESTING", "ENV_FILE", "SQLITE_PATH", "RUN_EXECUTOR")
UNREACHABLE = "postgres://someone:s3cret@127.0.0.1:9/production"


def run(argv: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k not in DROPPED}
    base.update({"SECRET_KEY": "x" * 40, **env})
    return subprocess.run(
        [sys.executable, *argv], cwd=ROOT, env=base, capture_output=True, text=True, timeout=60
    )


def test_a_command_reads_the_database_from_the_env_file_and_names_why_it_is_unreachable(
    tmp_path,
):
    env_file = tmp_path / ".env"
    env_file.write_text(f"DATABASE_URL={UNREACHABLE}\n", encoding="utf-8")
    sqlite = tmp_path / "db.sqlite3"
    result = run(
        ["manage.py", "issue_token", "demo@example.com"],
        ENV_FILE=str(env_file),
        SQLITE_PATH=str(sqlite),
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr  # one line, no traceback, no pool warnings
    assert lines[0].startswith(
        "cannot connect to the database at DATABASE_URL=postgres://someone:***@127.0.0.1:9/"
        "production: "
    )
    assert "refused" in lines[0].lower() and "s3cret" not in lines[0]
    assert not sqlite.exists()  # the file's PostgreSQL, never the embedded database


def test_a_command_that_would_fall_back_to_sqlite_says_so_and_stops(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text(f"DATABASE_URL={UNREACHABLE}\n", encoding="utf-8")
    sqlite = tmp_path / "db.sqlite3"
    result = run(
        ["manage.py", "issue_token", "demo@example.com"],
        ENV_FILE=str(env_file),
        SQLITE_PATH=str(sqlite),
        DATABASE_URL="",
    )
    assert result.returncode == 2
    assert result.stderr.startswith(f"configuration error: {env_file} sets DATABASE_URL")
    assert "would use the embedded SQLite database" in result.stderr
    assert "Traceback" not in result.stderr
    assert not sqlite.exists()


def test_the_environment_wins_over_the_env_file(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text("OAUTH_TTL_DAYS=0\n", encoding="utf-8")  # invalid if it were read
    assert run(["manage.py", "check"], ENV_FILE=str(env_file)).returncode == 2
    result = run(["manage.py", "check"], ENV_FILE=str(env_file), OAUTH_TTL_DAYS="14")
    assert result.returncode == 0, result.stderr


def test_serve_prod_refuses_a_database_set_only_in_the_shell(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text("REDIS_URL=redis://127.0.0.1:6379/0\n", encoding="utf-8")
    result = run(["-m", "config.serve", "check"], ENV_FILE=str(env_file), DATABASE_URL=UNREACHABLE)
    assert result.returncode == 2
    assert result.stderr == (
        f"configuration error: DATABASE_URL is set in this shell but not in {env_file}: "
        "manage.py commands, make worker and cron jobs started elsewhere would not see it; "
        f"put DATABASE_URL=… in {env_file}\n"
    )
    env_file.write_text(
        f"DATABASE_URL={UNREACHABLE}\nREDIS_URL=redis://127.0.0.1:6379/0\n", encoding="utf-8"
    )
    ok = run(["-m", "config.serve", "check"], ENV_FILE=str(env_file))
    assert ok.returncode == 0 and ok.stderr == ""


def test_links_written_without_a_request_follow_the_port_the_server_was_started_on():
    # `make run PORT=9555` starts daphne with SERVE_HOST/SERVE_PORT; serve-prod has
    # SERVE_WSGI_PORT. An emailed form's link (no request to read) starts there.
    code = "from config.public_url import link_base_url; print(link_base_url())"
    result = run(["manage.py", "shell", "-c", code], SERVE_HOST="127.0.0.1", SERVE_PORT="9555")
    assert result.stdout.strip().splitlines()[-1] == "http://127.0.0.1:9555", result.stderr


def test_make_run_checks_its_port_before_it_says_serving_on():
    import socket

    from config.portcheck import port_problem

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run(["-m", "config.portcheck", "127.0.0.1", str(port)])
    assert result.returncode == 1
    assert result.stderr.startswith(f"cannot serve on 127.0.0.1:{port}: Address already in use")
    assert f"make run PORT={port + 1}" in result.stderr
    assert port_problem("127.0.0.1", port) is None  # free again
    recipe = (ROOT / "Makefile").read_text().split("\nrun:", 1)[1].split("\n\n", 1)[0]
    assert recipe.index("config.portcheck $(HOST) $(PORT)") < recipe.index("Serving on")
