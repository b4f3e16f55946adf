"""A few seconds of `make bench`'s runs section and of `benchmarks/load.py` (issue 21 §6), which
run outside CI: the same client code against two test daphne processes, with small counts, so
that a change that breaks either is caught here. Figures are never asserted (timing belongs to
the bench); what is asserted is what the bench and the load test report as correct.
"""

from __future__ import annotations

import asyncio

import pytest

from apps_runtime.demo import demo_app_path
from apps_runtime.events import event_log
from apps_runtime.runs.tests.helpers import running_run
from apps_runtime.runs.tests.test_run_e2e import import_app
from benchmarks import load, runs
from tests.servers import servers

pytestmark = [pytest.mark.shared_services, pytest.mark.django_db(transaction=True)]


def test_the_bench_and_the_load_test_run_small(acme, alice, token_for):
    workflow = import_app(acme, alice, demo_app_path("echo_workflow.yml"))
    chat = import_app(acme, alice, demo_app_path("echo_chat.yml"))
    tokens = [token_for(alice) for _ in range(3)]
    idle = [running_run(workflow, alice) for _ in range(12)]
    paths = [
        (f"/openapi/v1/apps/{workflow.id}/tasks/{run.id}/events", tokens[i // 6])
        for i, run in enumerate(idle[:-1])
    ]
    with servers(
        2,
        OPENAPI_RATE_LIMIT_PER_TOKEN="0",
        RUN_STARTS_PER_MINUTE="0",
        RUN_MAX_ACTIVE_PER_SUBJECT="0",
    ) as (one, two):
        # a. idle streams, held and released
        held = asyncio.run(runs.hold_streams(one.base, one.process.pid, paths, tokens[2], 3))
        assert held["streams"] == 11
        assert held["fds_per_stream"] >= 1  # each held stream is one open socket at least
        assert held["account_p50_ms_held"] > 0

        # b. events appended here reach a client attached through the server, all and in order
        log = event_log()
        task = str(idle[-1].id)

        def append(i: int, last: bool) -> None:
            log.append(
                task, {"event": "text_chunk", "i": i, "t": repr(__import__("time").monotonic())}
            )
            if last:
                log.append(task, {"event": "workflow_finished", "data": {"status": "succeeded"}})

        path = f"/openapi/v1/apps/{workflow.id}/tasks/{task}/events"
        burst = runs.attached_latency(one.base, path, tokens[2], 50, append)
        assert (burst["delivered"], burst["lost"], burst["duplicates"]) == (50, 0, 0)
        assert burst["in_order"]

        # c. timed runs of an echo app
        timed = asyncio.run(
            runs.run_times(
                two.base,
                f"/openapi/v1/apps/{workflow.id}/run",
                tokens[0],
                runs.ECHO_WORKFLOW_BODY,
                2,
            )
        )
        assert timed["runs"] == 2 and timed["terminal_p50_ms"] >= timed["first_p50_ms"] > 0

        # the load test: concurrent runs on both processes, each re-attached through the other
        apps = {"workflow": (str(workflow.id), "workflow"), "chat": (str(chat.id), "advanced-chat")}
        result = asyncio.run(load.load([one.base, two.base], tokens, apps, 8))
    assert result["errors"] == []
    assert (result["finished"], result["failed"], result["lost_or_repeated"]) == (8, 0, 0)
    assert result["events"] >= 8 * 3


def test_the_load_checker_refuses_a_lost_a_repeated_and_an_unfinished_stream():
    def ev(entry_id, name="text_chunk", **data):
        return {"_id": entry_id, "event": name, **data}

    done = ev("3-0", "workflow_finished", data={"status": "succeeded"})
    good = [ev("1-0", "workflow_started"), ev("2-0"), done]
    assert load.check_run("workflow", good, good) is None
    assert "differs" in load.check_run("workflow", [good[0], done], good)  # one lost
    assert "increasing" in load.check_run("workflow", [good[0], good[1], good[1], done], good)
    assert "ended with" in load.check_run("workflow", good[:2], good)
    failed = {**done, "data": {"status": "failed"}}
    assert "did not succeed" in load.check_run("workflow", [good[0], failed], [good[0], failed])
