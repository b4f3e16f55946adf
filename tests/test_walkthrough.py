"""The README walkthrough runs as written (issue 22 item 1): ``docs/walkthrough.sh``, the block
the README shows verbatim, run with bash against a live daphne on the test database, the
browser approval step done by headless Chromium (Playwright) as a reader would do it."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from oauth_device.tests.test_browser import CHROMIUM, BrowserRun, wait_for_path
from tests.servers import ROOT, servers

SCRIPT = ROOT / "docs" / "walkthrough.sh"
README = ROOT / "README.md"
MARKER = (
    "<!-- docs/walkthrough.sh (tests/test_walkthrough.py checks this block equals the file) -->"
)


def readme_block() -> str:
    text = README.read_text(encoding="utf-8")
    after = text.split(MARKER, 1)[1]
    match = re.match(r"\s*```sh\n(.*?)```\n", after, re.S)
    assert match, "the README's walkthrough block is not a ```sh block after its marker"
    return match.group(1)


def test_the_readme_shows_the_walkthrough_file_verbatim():
    assert readme_block() == SCRIPT.read_text(encoding="utf-8")


def events(path: Path) -> list[dict[str, Any]]:
    import json

    return [
        json.loads(line[len("data: ") :])
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.startswith("data: ")
    ]


@pytest.mark.browser
@pytest.mark.skipif(
    not os.path.exists(CHROMIUM) or not (shutil.which("jq") and shutil.which("curl")),
    reason="needs /usr/bin/chromium, jq and curl (.ci/run installs them)",
)
@pytest.mark.django_db(transaction=True)
def test_the_walkthrough_runs_as_written_against_a_live_server(tmp_path, settings):
    from apps_runtime.demo import demo_seed

    demo_seed()
    with servers(1, DEVICE_POLL_INTERVAL_SECONDS="1") as (server,):
        process = subprocess.Popen(
            ["bash", "-e", "-o", "pipefail", str(SCRIPT)],
            cwd=tmp_path,
            env={**os.environ, "PORT": str(server.port)},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        output: list[str] = []
        url_seen = threading.Event()

        def drain() -> None:
            assert process.stdout is not None
            for line in process.stdout:
                output.append(line)
                if line.startswith("Open "):
                    url_seen.set()

        threading.Thread(target=drain, daemon=True).start()
        try:
            assert url_seen.wait(30), "".join(output)
            url = next(line for line in output if line.startswith("Open ")).split()[1]
            assert url.startswith(f"http://127.0.0.1:{server.port}/device?user_code=")

            def approve(page: Any) -> None:
                page.goto(url)
                wait_for_path(page, "/accounts/login/")
                page.get_by_label("Email").fill("demo@example.com")
                page.get_by_label("Password").fill(settings.DEMO_PASSWORD)
                page.get_by_role("button", name="Log in").click()
                wait_for_path(page, "/device")
                page.get_by_role("button", name="Continue").click()
                page.get_by_role("button", name="Approve").click()
                page.get_by_role("heading", name="Device approved").wait_for()

            BrowserRun("walkthrough", approve).start().join(60)
            process.wait(timeout=90)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
        time.sleep(0.1)  # the drain thread's last lines
        log = "".join(output)
        assert process.returncode == 0, log[-3000:]

    workflow = events(tmp_path / "workflow.txt")
    assert workflow[-1]["event"] == "workflow_finished", log[-3000:]
    assert workflow[-1]["data"]["outputs"]["x"] == "hello"
    assert [e["event"] for e in events(tmp_path / "chat.txt")][-1] == "message_end"
    paused = events(tmp_path / "paused.txt")
    assert [e["event"] for e in paused][-2:] == ["human_input_required", "workflow_paused"]
    resumed = events(tmp_path / "resumed.txt")
    assert resumed[-1]["event"] == "workflow_finished"
    assert resumed[-1]["data"]["status"] == "succeeded"
    assert '"status": "stopped"' in (tmp_path / "stop.json").read_text() or (
        '"status":"stopped"' in (tmp_path / "stop.json").read_text()
    )
    stopped = events(tmp_path / "stopped.txt")
    assert stopped[-1]["event"] == "workflow_finished"
    assert stopped[-1]["data"]["status"] == "stopped"
    assert '"revoked"' in log
    assert log.rstrip().endswith("}") and "invalid_bearer" in log.splitlines()[-1]
