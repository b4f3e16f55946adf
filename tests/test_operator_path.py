"""The README's operator path, run as a newcomer would: a fresh copy of the checkout, ``make``'s
key file, then every ``manage.py`` command the README shows, each in its own process with a clean
environment (no ``SECRET_KEY``, no ``DATABASE_URL``/``REDIS_URL``, no ``TESTING``), and the
server itself answering the walkthrough's requests with a token the command issued."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from tests.servers import free_port

ROOT = Path(__file__).resolve().parent.parent
VENV = (ROOT / ".venv").resolve()
PYTHON = ".venv/bin/python"
SECRET_VALUE = "sk-operator-path-secret"
DROPPED = ("SECRET_KEY", "DATABASE_URL", "REDIS_URL", "TESTING", "DJANGO_SETTINGS_MODULE", "DEBUG")

pytestmark = pytest.mark.skipif(
    shutil.which("make") is None or not (VENV / "bin" / "daphne").exists(),
    reason="needs make and the project's virtualenv",
)


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in DROPPED and not k.startswith("PYTEST")}
    env.update(extra)
    return env


def run(clone: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        list(args), cwd=clone, env=env or clean_env(), capture_output=True, text=True, timeout=180
    )


def manage(clone: Path, *args: str, **extra: str) -> str:
    result = run(clone, PYTHON, "manage.py", *args, env=clean_env(**extra))
    assert result.returncode == 0, (args, result.stdout[-2000:], result.stderr[-2000:])
    return result.stdout


@pytest.fixture(scope="module")
def clone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The checkout's files (tracked and new, as git sees them) in a fresh directory."""
    target = tmp_path_factory.mktemp("fresh") / "difyapi"
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for raw in filter(None, listed):
        source = ROOT / raw.decode()
        if source.is_file() and not source.is_symlink():
            destination = target / raw.decode()
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination)
    (target / ".venv").symlink_to(VENV)
    return target


def test_without_a_key_commands_say_how_to_get_one_and_debug_is_no_way_round(clone):
    for extra in ({}, {"DEBUG": "1"}):
        result = run(clone, PYTHON, "manage.py", "check", env=clean_env(**extra))
        assert result.returncode != 0
        assert "SECRET_KEY" in result.stderr and "make run" in result.stderr
        assert "Traceback" not in result.stderr


@pytest.fixture(scope="module")
def prepared(clone: Path) -> Path:
    # What `make run` does before it serves: the key file, migrate, seed_demo.
    result = run(clone, "make", ".secret_key")
    assert result.returncode == 0, result.stderr
    assert (clone / ".secret_key").stat().st_size > 40
    manage(clone, "migrate", "--noinput")
    assert "demo@example.com" in manage(clone, "seed_demo")
    return clone


@pytest.fixture(scope="module")
def server(prepared: Path) -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen(
        [".venv/bin/daphne", "-b", "127.0.0.1", "-p", str(port), "config.asgi:application"],
        cwd=prepared,
        env=clean_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/openapi/v1/_health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert process.poll() is None, process.stderr.read().decode()[-2000:]  # type: ignore[union-attr]
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=20)


def test_createsuperuser_then_admin_login(prepared, server):
    manage(
        prepared,
        "createsuperuser",
        "--noinput",
        "--email",
        "admin@example.com",
        "--name",
        "Admin",
        DJANGO_SUPERUSER_PASSWORD="an-admin-password-1",
    )
    with httpx.Client(base_url=server, follow_redirects=False) as browser:
        browser.get("/admin/login/")
        response = browser.post(
            "/admin/login/?next=/admin/",
            data={
                "username": "admin@example.com",
                "password": "an-admin-password-1",
                "csrfmiddlewaretoken": browser.cookies["csrftoken"],
                "next": "/admin/",
            },
            headers={"Referer": f"{server}/admin/login/"},
        )
        assert response.status_code == 302 and response.headers["location"] == "/admin/"
        assert "View site" in browser.get("/admin/").text


def _dsl_with_secret(directory: Path) -> Path:
    doc = yaml.safe_load((ROOT / "apps_runtime/tests/fixtures/dsl/workflow_full.yml").read_text())
    for variable in doc["workflow"]["environment_variables"]:
        if variable.get("value_type") == "secret":
            variable["value"] = SECRET_VALUE
    path = directory / "my-app.yml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path


def _secret_of(exported: str) -> str:
    variables = yaml.safe_load(exported)["workflow"]["environment_variables"]
    return next(v["value"] for v in variables if v.get("value_type") == "secret")


def test_import_then_export_with_secrets(prepared, tmp_path):
    dsl = _dsl_with_secret(tmp_path)
    app_id = manage(prepared, "import_dsl", str(dsl), "--workspace", "Demo").strip()
    assert len(app_id) == 36
    exported = manage(prepared, "export_dsl", app_id, "--include-secrets")
    assert _secret_of(exported) == SECRET_VALUE
    assert _secret_of(manage(prepared, "export_dsl", app_id)) != SECRET_VALUE


def test_a_secret_sealed_by_the_server_opens_in_export(prepared, server, tmp_path):
    manage(
        prepared,
        "createsuperuser",
        "--noinput",
        "--email",
        "ops@example.com",
        "--name",
        "Ops",
        DJANGO_SUPERUSER_PASSWORD="an-ops-password-1",
    )
    dsl = _dsl_with_secret(tmp_path)
    with httpx.Client(base_url=server) as browser:
        browser.get("/admin/login/")
        browser.post(
            "/admin/login/",
            data={
                "username": "ops@example.com",
                "password": "an-ops-password-1",
                "csrfmiddlewaretoken": browser.cookies["csrftoken"],
            },
            headers={"Referer": f"{server}/admin/login/"},
        )
        form = browser.get("/admin/apps_runtime/app/import-dsl/")
        assert form.status_code == 200
        demo = next(
            line.split('value="')[1].split('"')[0]
            for line in form.text.splitlines()
            if "<option" in line and ">Demo (" in line
        )
        response = browser.post(
            "/admin/apps_runtime/app/import-dsl/",
            data={
                "workspace": demo,
                "name": "Sealed by the server",
                "csrfmiddlewaretoken": browser.cookies["csrftoken"],
            },
            files={"file": ("my-app.yml", dsl.read_bytes(), "application/x-yaml")},
            headers={"Referer": f"{server}/admin/apps_runtime/app/import-dsl/"},
            follow_redirects=False,
        )
        assert response.status_code == 302, response.text[-2000:]
        app_id = response.headers["location"].rstrip("/").split("/")[-2]
    assert _secret_of(manage(prepared, "export_dsl", app_id, "--include-secrets")) == SECRET_VALUE


def test_issued_token_walks_the_readme(prepared, server):
    token = manage(prepared, "issue_token", "demo@example.com", "--label", "my script").strip()
    assert token.startswith("dfoa_")
    auth = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=f"{server}/openapi/v1", headers=auth) as api:
        account = api.get("/account").json()
        assert account["subject_email"] == "demo@example.com"
        workspace_id = account["default_workspace_id"]
        workspaces = api.get("/workspaces").json()
        assert {w["name"] for w in workspaces["workspaces"]} >= {"Demo", "Shared Team"}
        apps = api.get("/apps", params={"workspace_id": workspace_id}).json()
        names = {app["name"]: app["id"] for app in apps["data"]}
        assert "Echo Chat" in names
        described = api.get(f"/apps/{names['Echo Chat']}/describe").json()
        assert described["info"]["name"] == "Echo Chat"
    home = httpx.get(f"{server}/")
    assert home.status_code == 200 and "/openapi/v1/docs" in home.text


def test_housekeeping(prepared):
    output = manage(prepared, "housekeeping")
    assert "device grants purged" in output and "access tokens expired" in output


def _converse(clone: Path, args: list[str], answers: list[tuple[str, str]]) -> str:
    """Run ``args`` on a pseudo-terminal (its controlling tty, so getpass reads it too) and type
    each answer when its prompt appears; return everything it printed."""
    import fcntl
    import pty
    import select
    import termios

    master, slave = pty.openpty()

    def controlling_tty() -> None:
        os.setsid()
        fcntl.ioctl(slave, termios.TIOCSCTTY, 0)

    process = subprocess.Popen(
        args,
        cwd=clone,
        env=clean_env(),
        stdin=slave,
        stdout=slave,
        stderr=slave,
        preexec_fn=controlling_tty,
        close_fds=True,
    )
    os.close(slave)
    seen = ""
    pending = list(answers)
    deadline = time.monotonic() + 90
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.5)
            if ready:
                try:
                    chunk = os.read(master, 4096).decode(errors="replace")
                except OSError:  # the child closed the terminal
                    break
                if not chunk:
                    break
                seen += chunk
                while pending and pending[0][0] in seen.rsplit("\n", 1)[-1]:
                    os.write(master, (pending.pop(0)[1] + "\n").encode())
                    seen += "\n"
            elif process.poll() is not None:
                break
        assert process.wait(timeout=30) == 0, seen[-2000:]
        assert not pending, (pending, seen[-2000:])
        return seen
    finally:
        os.close(master)
        if process.poll() is None:
            process.kill()


def test_interactive_createsuperuser_as_the_readme_shows(prepared):
    output = _converse(
        prepared,
        [PYTHON, "manage.py", "createsuperuser"],
        [
            ("Email:", "typed@example.com"),
            ("Name:", "Typed Admin"),
            ("Password:", "a-typed-password-1"),
            ("Password (again):", "a-typed-password-1"),
        ],
    )
    assert "Superuser created successfully." in output
    check = manage(
        prepared,
        "shell",
        "-c",
        "from accounts.models import Account; a = Account.objects.get(email='typed@example.com');"
        " print(a.is_superuser, a.check_password('a-typed-password-1'))",
    )
    assert check.strip().splitlines()[-1] == "True True"
