"""Containers (dsl.md §4.13) and the assigner (§4.14) in the engine, without HTTP: iteration
(sequential and parallel, error modes, flattening, stop), loop (rounds, break conditions,
loop-end, loop variables), and every assigner operation on conversation and loop variables."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from apps_runtime.engine import run_workflow
from apps_runtime.engine.nodes import NODE_TYPES
from apps_runtime.engine.nodes.base import Node, NodeFailed, NodeResult, RunContext
from apps_runtime.engine.tests.enginehost import RecordingHost, edge, graph, node

# --- helpers ----------------------------------------------------------------------------------


class Probe(Node):
    """A test node: reads ``selector``, fails on ``fail_on``, sleeps ``sleep`` seconds (or the
    value itself with ``sleep_by_value``), outputs ``value``; counts how many run at once."""

    running = 0
    most = 0
    lock = threading.Lock()

    def run(self, ctx: RunContext) -> NodeResult:
        value = ctx.pool.get(self.data["selector"])
        if "fail_on" in self.data and value == self.data["fail_on"]:
            raise NodeFailed(f"probe refused {value!r}")
        with Probe.lock:
            Probe.running += 1
            Probe.most = max(Probe.most, Probe.running)
        try:
            time.sleep(value if self.data.get("sleep_by_value") else self.data.get("sleep", 0))
        finally:
            with Probe.lock:
                Probe.running -= 1
        return NodeResult(outputs={"value": value})


@pytest.fixture(autouse=True)
def probe_node(monkeypatch):
    monkeypatch.setitem(NODE_TYPES, "test-probe", Probe)
    Probe.running = Probe.most = 0


def inner(node_id: str, kind: str, parent: str, **data: Any) -> dict[str, Any]:
    raw = node(node_id, kind, **data)
    raw["parentId"] = parent
    return raw


def start(*names: str) -> dict[str, Any]:
    variables = [{"variable": n, "type": "text-input"} for n in names]
    variables.append({"variable": "data", "type": "json_object"})
    return node("start", "start", variables=variables)


def end(*pairs: tuple[str, list[str]]) -> dict[str, Any]:
    return node("end", "end", outputs=[{"variable": v, "value_selector": s} for v, s in pairs])


def run(g, inputs=None, *, host=None, conversation=None, mode="workflow"):
    """``inputs["items"]`` reaches the graph as ``start.data.items`` (a JSON-object input: start
    inputs have no list type)."""
    host = host or RecordingHost()
    inputs = dict(inputs or {})
    if "items" in inputs:
        inputs["data"] = {"items": inputs.pop("items")}
    outcome = run_workflow(
        g,
        mode=mode,
        inputs=inputs or {},
        system={},
        environment={},
        conversation=conversation if conversation is not None else {},
        host=host,
    )
    return outcome, host


def iteration_graph(inner_nodes, inner_edges, **iteration: Any) -> dict[str, Any]:
    """start(items) → it[iterate items; inner graph] → end(out = it.output)."""
    data = {
        "iterator_selector": ["start", "data", "items"],
        "output_selector": ["p", "value"],
        "start_node_id": "itstart",
        **iteration,
    }
    return graph(
        [
            start(),
            node("it", "iteration", **data),
            inner("itstart", "iteration-start", "it"),
            *inner_nodes,
            end(("out", ["it", "output"])),
        ],
        [edge("start", "it"), edge("it", "end"), *inner_edges],
    )


def tt_inner(node_id: str, template: str, parent: str, **variables: list[str]) -> dict[str, Any]:
    return inner(
        node_id,
        "template-transform",
        parent,
        template=template,
        variables=[{"variable": k, "value_selector": v} for k, v in variables.items()],
    )


# --- iteration --------------------------------------------------------------------------------


def test_iteration_runs_the_inner_graph_per_item_with_item_and_index() -> None:
    g = iteration_graph(
        [tt_inner("t", "{{ i }}:{{ x | upper }}", "it", x=["it", "item"], i=["it", "index"])],
        [edge("itstart", "t")],
        output_selector=["t", "output"],
    )
    outcome, host = run(g, {"items": ["a", "b", "c"]})
    assert outcome.status == "succeeded", outcome.error
    assert outcome.outputs == {"out": ["0:A", "1:B", "2:C"]}
    started = host.named("iteration_started")
    assert len(started) == 1
    assert started[0]["data"]["metadata"] == {"iterator_length": 3}
    assert started[0]["data"]["inputs"] == {"iterator_selector": ["a", "b", "c"]}
    assert [e["data"]["index"] for e in host.named("iteration_next")] == [0, 1, 2]
    completed = host.named("iteration_completed")
    assert len(completed) == 1 and completed[0]["data"]["status"] == "succeeded"
    assert completed[0]["data"]["outputs"] == {"output": ["0:A", "1:B", "2:C"]}
    assert completed[0]["data"]["steps"] == 3
    assert completed[0]["data"]["id"] == started[0]["data"]["id"]
    # The container has no node_* events of its own; the inner ones carry their item's index.
    assert "it" not in host.ran()
    inner_started = [e["data"] for e in host.named("node_started") if e["data"]["node_id"] == "t"]
    assert [(d["iteration_id"], d["iteration_index"]) for d in inner_started] == [
        ("it", 0),
        ("it", 1),
        ("it", 2),
    ]
    inner_finished = [e["data"] for e in host.named("node_finished") if e["data"]["node_id"] == "t"]
    assert [d["execution_metadata"]["iteration_index"] for d in inner_finished] == [0, 1, 2]
    assert all(d["execution_metadata"]["iteration_id"] == "it" for d in inner_finished)
    # Steps count every node of the run, inside and out.
    assert outcome.total_steps == 1 + 1 + 3 * 2 + 1


def test_an_empty_or_null_list_gives_an_empty_output_and_a_non_list_fails() -> None:
    g = iteration_graph([inner("p", "test-probe", "it", selector=["it", "item"])], [])
    g["edges"].append(edge("itstart", "p"))
    assert run(g, {"items": []})[0].outputs == {"out": []}
    outcome, _ = run(g, {"items": "abc"})
    assert outcome.status == "failed"
    assert "is not a list" in outcome.error


def test_parallel_iteration_keeps_input_order_and_runs_items_at_once() -> None:
    g = iteration_graph(
        [inner("p", "test-probe", "it", selector=["it", "item"], sleep_by_value=True)],
        [edge("itstart", "p")],
        is_parallel=True,
        parallel_nums=3,
    )
    items = [0.3, 0.05, 0.15, 0.0]
    began = time.monotonic()
    outcome, host = run(g, {"items": items})
    elapsed = time.monotonic() - began
    assert outcome.status == "succeeded", outcome.error
    assert outcome.outputs == {"out": items}
    assert Probe.most == 3  # parallel_nums bounds the threads
    assert elapsed < sum(items)
    indexes = sorted(
        e["data"]["execution_metadata"]["iteration_index"]
        for e in host.named("node_finished")
        if e["data"]["node_id"] == "p"
    )
    assert indexes == [0, 1, 2, 3]


def test_parallel_nums_is_capped_by_the_setting(settings) -> None:
    settings.ITERATION_MAX_PARALLEL = 2
    g = iteration_graph(
        [inner("p", "test-probe", "it", selector=["it", "item"], sleep=0.05)],
        [edge("itstart", "p")],
        is_parallel=True,
        parallel_nums=10,
    )
    outcome, _ = run(g, {"items": [1, 2, 3, 4, 5]})
    assert outcome.outputs == {"out": [1, 2, 3, 4, 5]}
    assert Probe.most == 2


def test_a_stop_reaches_every_parallel_branch_within_one_node() -> None:
    # Each item runs three slow nodes in a row; the run is stopped once the first one finished.
    chain = [
        inner(name, "test-probe", "it", selector=["it", "item"], sleep=0.2)
        for name in ("p1", "p2", "p3")
    ]
    g = iteration_graph(
        chain,
        [edge("itstart", "p1"), edge("p1", "p2"), edge("p2", "p3")],
        output_selector=["p3", "value"],
        is_parallel=True,
        parallel_nums=4,
    )
    host = RecordingHost(
        stop_when=lambda h: any(e["data"]["node_id"] == "p1" for e in h.named("node_finished"))
    )
    began = time.monotonic()
    outcome, host = run(g, {"items": [1, 2, 3, 4]}, host=host)
    assert outcome.status == "stopped"
    assert time.monotonic() - began < 0.2 * 3  # well before any branch could finish
    probes = [
        e["data"] for e in host.named("node_started") if e["data"]["node_id"] in {"p1", "p2", "p3"}
    ]
    per_branch: dict[int, int] = {}
    for data in probes:
        per_branch[data["iteration_index"]] = per_branch.get(data["iteration_index"], 0) + 1
    assert max(per_branch.values()) <= 2  # at most the node running when the stop came + one
    assert "p3" not in {d["node_id"] for d in probes}
    completed = host.named("iteration_completed")
    assert completed and completed[-1]["data"]["status"] == "stopped"
    assert Probe.running == 0  # every thread has ended


@pytest.mark.parametrize(
    ("mode", "status", "out"),
    [
        ("terminated", "failed", None),
        ("continue-on-error", "succeeded", ["a", None, "c"]),
        ("remove-abnormal-output", "succeeded", ["a", "c"]),
    ],
)
@pytest.mark.parametrize("parallel", [False, True])
def test_error_handle_modes(mode, status, out, parallel) -> None:
    g = iteration_graph(
        [inner("p", "test-probe", "it", selector=["it", "item"], fail_on="bad")],
        [edge("itstart", "p")],
        error_handle_mode=mode,
        is_parallel=parallel,
    )
    outcome, host = run(g, {"items": ["a", "bad", "c"]})
    assert outcome.status == status
    if out is None:
        assert "item 1 failed: probe refused 'bad'" in outcome.error
        assert host.named("iteration_completed")[-1]["data"]["status"] == "failed"
    else:
        assert outcome.outputs == {"out": out}


@pytest.mark.parametrize(
    ("flatten", "out"), [(None, [1, 2, 3]), (True, [1, 2, 3]), (False, [[1, 2], [3]])]
)
def test_flatten_output(flatten, out) -> None:
    extra = {} if flatten is None else {"flatten_output": flatten}
    g = iteration_graph(
        [inner("p", "test-probe", "it", selector=["it", "item"])],
        [edge("itstart", "p")],
        **extra,
    )
    assert run(g, {"items": [[1, 2], [3]]})[0].outputs == {"out": out}


def test_a_nested_iteration_sees_its_own_item_and_the_outer_one() -> None:
    g = graph(
        [
            start(),
            node(
                "outer",
                "iteration",
                iterator_selector=["start", "data", "items"],
                output_selector=["inner", "output"],
                start_node_id="os",
            ),
            inner("os", "iteration-start", "outer"),
            inner(
                "inner",
                "iteration",
                "outer",
                iterator_selector=["outer", "item"],
                output_selector=["t", "output"],
                start_node_id="is",
                flatten_output=False,
            ),
            inner("is", "iteration-start", "inner"),
            tt_inner("t", "{{ o }}{{ x }}", "inner", o=["outer", "index"], x=["inner", "item"]),
            end(("out", ["outer", "output"])),
        ],
        [edge("start", "outer"), edge("outer", "end"), edge("os", "inner"), edge("is", "t")],
    )
    outcome, _ = run(g, {"items": [["a", "b"], ["c"]]})
    assert outcome.outputs == {"out": ["0a", "0b", "1c"]}


def test_the_item_limit_is_a_setting(settings) -> None:
    settings.ITERATION_MAX_ITEMS = 2
    g = iteration_graph(
        [inner("p", "test-probe", "it", selector=["it", "item"])], [edge("itstart", "p")]
    )
    outcome, _ = run(g, {"items": [1, 2, 3]})
    assert outcome.status == "failed" and "limit of 2" in outcome.error


def test_human_input_inside_a_container_fails_the_node_clearly() -> None:
    g = iteration_graph(
        [
            inner(
                "p",
                "human-input",
                "it",
                form_content="ok?",
                inputs=[],
                user_actions=[{"id": "yes", "title": "Yes"}],
                delivery_methods=[],
            )
        ],
        [edge("itstart", "p")],
    )
    outcome, _ = run(g, {"items": [1]})
    assert outcome.status == "failed"
    assert "cannot wait for input inside an iteration or loop" in outcome.error


# --- loop -------------------------------------------------------------------------------------


def loop_graph(inner_nodes, inner_edges, **loop: Any) -> dict[str, Any]:
    data = {
        "start_node_id": "lstart",
        "loop_count": 10,
        "loop_variables": [
            {
                "id": "v1",
                "label": "n",
                "var_type": "number",
                "value_type": "constant",
                "value": "0",
            },
            {
                "id": "v2",
                "label": "seen",
                "var_type": "array[string]",
                "value_type": "constant",
                "value": "[]",
            },
        ],
        **loop,
    }
    return graph(
        [
            start("word"),
            node("lp", "loop", **data),
            inner("lstart", "loop-start", "lp"),
            *inner_nodes,
            end(("n", ["lp", "n"]), ("seen", ["lp", "seen"]), ("rounds", ["lp", "loop_round"])),
        ],
        [edge("start", "lp"), edge("lp", "end"), *inner_edges],
    )


def bump(parent: str = "lp") -> dict[str, Any]:
    return inner(
        "bump",
        "assigner",
        parent,
        version="2",
        items=[
            {
                "variable_selector": [parent, "n"],
                "input_type": "constant",
                "operation": "+=",
                "value": 1,
            },
            {
                "variable_selector": [parent, "seen"],
                "input_type": "variable",
                "operation": "append",
                "value": ["start", "word"],
            },
        ],
    )


def test_a_loop_that_never_breaks_stops_at_loop_count() -> None:
    outcome, host = run(loop_graph([bump()], [edge("lstart", "bump")], loop_count=4), {"word": "w"})
    assert outcome.status == "succeeded", outcome.error
    assert outcome.outputs == {"n": 4, "seen": ["w"] * 4, "rounds": 4}
    assert host.named("loop_started")[0]["data"]["metadata"] == {"loop_length": 4}
    assert [e["data"]["index"] for e in host.named("loop_next")] == [0, 1, 2, 3]
    completed = host.named("loop_completed")[0]["data"]
    assert completed["status"] == "succeeded"
    assert completed["outputs"] == {"n": 4, "seen": ["w"] * 4, "loop_round": 4}
    assert completed["execution_metadata"]["completed_reason"] == "loop_completed"
    assert completed["execution_metadata"]["loop_variable_map"]["1"] == {"n": 2, "seen": ["w", "w"]}
    loop_indexes = [
        e["data"]["loop_index"]
        for e in host.named("node_started")
        if e["data"]["node_id"] == "bump"
    ]
    assert loop_indexes == [0, 1, 2, 3]
    assert all(
        e["data"]["loop_id"] == "lp"
        for e in host.named("node_started")
        if e["data"]["node_id"] == "bump"
    )


BREAK_AT_3 = [{"variable_selector": ["lp", "n"], "comparison_operator": "≥", "value": "3"}]


def test_break_conditions_end_the_loop_after_a_round() -> None:
    outcome, host = run(
        loop_graph([bump()], [edge("lstart", "bump")], break_conditions=BREAK_AT_3),
        {"word": "w"},
    )
    assert outcome.outputs == {"n": 3, "seen": ["w"] * 3, "rounds": 3}
    assert (
        host.named("loop_completed")[0]["data"]["execution_metadata"]["completed_reason"]
        == "loop_break"
    )


def test_break_conditions_are_checked_before_the_first_round() -> None:
    variables = [
        {"label": "n", "var_type": "number", "value_type": "constant", "value": 5},
        {"label": "seen", "var_type": "array[string]", "value_type": "constant", "value": []},
    ]
    outcome, host = run(
        loop_graph(
            [bump()],
            [edge("lstart", "bump")],
            break_conditions=BREAK_AT_3,
            loop_variables=variables,
        ),
        {"word": "w"},
    )
    assert outcome.outputs == {"n": 5, "seen": [], "rounds": 0}
    assert host.named("loop_next") == []
    assert "bump" not in host.ran()


def test_break_conditions_with_or_and_a_variable_initial_value() -> None:
    variables = [
        {"label": "n", "var_type": "number", "value_type": "variable", "value": ["start", "count"]},
        {"label": "seen", "var_type": "array[string]", "value_type": "constant", "value": []},
    ]
    conditions = [
        {"variable_selector": ["lp", "n"], "comparison_operator": "=", "value": "100"},
        {"variable_selector": ["lp", "seen"], "comparison_operator": "contains", "value": "w"},
    ]
    g = loop_graph(
        [bump()],
        [edge("lstart", "bump")],
        break_conditions=conditions,
        logical_operator="or",
        loop_variables=variables,
    )
    g["nodes"][0]["data"]["variables"].append({"variable": "count", "type": "number"})
    outcome, _ = run(g, {"word": "w", "count": 7})
    assert outcome.outputs == {"n": 8, "seen": ["w"], "rounds": 1}


def test_a_loop_end_node_ends_the_loop() -> None:
    cond = inner(
        "cond",
        "if-else",
        "lp",
        cases=[
            {
                "case_id": "true",
                "logical_operator": "and",
                "conditions": [
                    {"variable_selector": ["lp", "n"], "comparison_operator": "=", "value": "2"}
                ],
            }
        ],
    )
    g = loop_graph(
        [bump(), cond, inner("stop", "loop-end", "lp")],
        [edge("lstart", "bump"), edge("bump", "cond"), edge("cond", "stop", "true")],
    )
    outcome, _ = run(g, {"word": "w"})
    assert outcome.outputs == {"n": 2, "seen": ["w", "w"], "rounds": 2}


def test_loop_count_outside_the_limit_fails(settings) -> None:
    settings.LOOP_MAX_COUNT = 5
    outcome, _ = run(loop_graph([bump()], [edge("lstart", "bump")], loop_count=6), {"word": "w"})
    assert outcome.status == "failed" and "between 1 and 5" in outcome.error


def test_a_failing_round_fails_the_loop() -> None:
    g = loop_graph(
        [inner("p", "test-probe", "lp", selector=["lp", "n"], fail_on=0)], [edge("lstart", "p")]
    )
    outcome, host = run(g, {"word": "w"})
    assert outcome.status == "failed" and "round 1 failed: probe refused 0" in outcome.error
    assert host.named("loop_completed")[0]["data"]["status"] == "failed"


# --- assigner ---------------------------------------------------------------------------------


def assigner_graph(data: dict[str, Any]) -> dict[str, Any]:
    return graph(
        [start("x"), node("a", "assigner", **data), end(("done", ["start", "x"]))],
        [edge("start", "a"), edge("a", "end")],
    )


def v2(selector, operation, value=None, input_type="constant") -> dict[str, Any]:
    item = {
        "variable_selector": ["conversation", selector],
        "operation": operation,
        "input_type": input_type,
        "write_mode": "over-write",
    }
    if value is not None:
        item["value"] = value
    return {"version": "2", "items": [item]}


CONVERSATION = {
    "name": "Ann",
    "count": 4,
    "ratio": 2.5,
    "tags": ["a", "b", "c"],
    "profile": {"k": 1},
    "flag": False,
}


@pytest.mark.parametrize(
    ("data", "changed"),
    [
        (v2("name", "over-write", "Bob"), {"name": "Bob"}),
        (v2("name", "set", "Cid"), {"name": "Cid"}),
        (v2("name", "over-write", ["start", "x"], "variable"), {"name": "typed"}),
        (v2("name", "clear"), {"name": ""}),
        (v2("count", "clear"), {"count": 0}),
        (v2("tags", "clear"), {"tags": []}),
        (v2("profile", "clear"), {"profile": {}}),
        (v2("flag", "over-write", True), {"flag": True}),
        (v2("profile", "over-write", {"z": [1]}), {"profile": {"z": [1]}}),
        (v2("tags", "append", "d"), {"tags": ["a", "b", "c", "d"]}),
        (v2("tags", "append", ["start", "x"], "variable"), {"tags": ["a", "b", "c", "typed"]}),
        (v2("tags", "extend", ["x", "y"]), {"tags": ["a", "b", "c", "x", "y"]}),
        (v2("count", "+=", 3), {"count": 7}),
        (v2("count", "-=", 5), {"count": -1}),
        (v2("count", "*=", 2.5), {"count": 10}),
        (v2("count", "/=", 8), {"count": 0.5}),
        (v2("ratio", "+=", 0.25), {"ratio": 2.75}),
        (v2("tags", "remove-first"), {"tags": ["b", "c"]}),
        (v2("tags", "remove-last"), {"tags": ["a", "b"]}),
        (
            {
                "assigned_variable_selector": ["conversation", "name"],
                "write_mode": "over-write",
                "input_variable_selector": ["start", "x"],
            },
            {"name": "typed"},
        ),
        (
            {
                "assigned_variable_selector": ["conversation", "tags"],
                "write_mode": "append",
                "input_variable_selector": ["start", "x"],
            },
            {"tags": ["a", "b", "c", "typed"]},
        ),
        (
            {"assigned_variable_selector": ["conversation", "tags"], "write_mode": "clear"},
            {"tags": []},
        ),
    ],
)
def test_assigner_operations(data, changed) -> None:
    outcome, host = run(
        assigner_graph(data), {"x": "typed"}, conversation=dict(CONVERSATION), mode="workflow"
    )
    assert outcome.status == "succeeded", outcome.error
    assert outcome.conversation_variables == changed
    finished = host.finished()["a"]
    updated = finished["process_data"]["updated_variables"]
    assert [(u["name"], u["new_value"]) for u in updated] == list(changed.items())


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (v2("name", "over-write", 3), "cannot write a number to a string variable"),
        (v2("count", "+=", "1"), "'+=' needs a number value, not a string"),
        (v2("name", "+=", 1), "'+=' needs a number variable, not a string"),
        (v2("count", "/=", 0), "division by zero"),
        (v2("name", "append", "x"), "'append' needs an array variable"),
        (v2("tags", "append", 1), "cannot append a number to an array of string"),
        (v2("tags", "extend", "x"), "'extend' needs an array value"),
        (v2("name", "remove-last"), "'remove-last' needs an array variable"),
        (v2("missing", "over-write", "x"), "variable conversation.missing not found"),
        (v2("name", "explode", "x"), "unknown operation 'explode'"),
        (v2("name", "over-write", ["nowhere", "x"], "variable"), "not found"),
        (
            {
                "version": "2",
                "items": [{"variable_selector": ["sys", "query"], "operation": "clear"}],
            },
            "sys.query cannot be assigned",
        ),
        (
            {
                "assigned_variable_selector": ["conversation", "name"],
                "write_mode": "merge",
                "input_variable_selector": ["start", "x"],
            },
            "unknown write_mode 'merge'",
        ),
    ],
)
def test_assigner_refuses_what_does_not_fit(data, message) -> None:
    outcome, _ = run(assigner_graph(data), {"x": "typed"}, conversation=dict(CONVERSATION))
    assert outcome.status == "failed"
    assert message in outcome.error
    assert outcome.conversation_variables == {}


@pytest.mark.parametrize(
    ("second", "status", "changed"),
    [
        # The second item fails: the first one's write is not kept either.
        (("name", "+=", 1), "failed", {}),
        # Items of one node apply in order, each to the value the one before left.
        (("count", "*=", 10), "succeeded", {"count": 50}),
    ],
)
def test_items_of_one_node_apply_in_order_or_not_at_all(second, status, changed) -> None:
    data = v2("count", "+=", 1)
    data["items"] += v2(*second)["items"]
    outcome, _ = run(assigner_graph(data), {"x": "y"}, conversation=dict(CONVERSATION))
    assert outcome.status == status
    assert outcome.conversation_variables == changed


def test_an_assigner_in_an_iteration_writes_the_conversation_variable() -> None:
    g = iteration_graph(
        [
            inner(
                "acc",
                "assigner",
                "it",
                version="2",
                items=[
                    {
                        "variable_selector": ["conversation", "tags"],
                        "input_type": "variable",
                        "operation": "append",
                        "value": ["it", "item"],
                    }
                ],
            )
        ],
        [edge("itstart", "acc")],
        output_selector=["it", "index"],
    )
    outcome, _ = run(g, {"items": ["x", "y"]}, conversation={"tags": []})
    assert outcome.outputs == {"out": [0, 1]}
    assert outcome.conversation_variables == {"tags": ["x", "y"]}


def test_loops_inside_parallel_items_keep_their_own_loop_variables() -> None:
    loop = inner(
        "lp",
        "loop",
        "it",
        start_node_id="lstart",
        loop_count=5,
        loop_variables=[{"label": "n", "var_type": "number", "value_type": "constant", "value": 0}],
        break_conditions=[
            {"variable_selector": ["lp", "n"], "comparison_operator": "≥", "value": "{{#it.item#}}"}
        ],
    )
    step = inner(
        "step",
        "assigner",
        "lp",
        version="2",
        items=[
            {
                "variable_selector": ["lp", "n"],
                "input_type": "constant",
                "operation": "+=",
                "value": 1,
            }
        ],
    )
    slow = inner("p", "test-probe", "lp", selector=["lp", "n"], sleep=0.02)
    g = iteration_graph(
        [loop, inner("lstart", "loop-start", "lp"), step, slow],
        [edge("itstart", "lp"), edge("lstart", "step"), edge("step", "p")],
        output_selector=["lp", "n"],
        is_parallel=True,
        parallel_nums=3,
    )
    outcome, host = run(g, {"items": [2, 4, 1]})
    assert outcome.status == "succeeded", outcome.error
    assert outcome.outputs == {"out": [2, 4, 1]}
    rounds = sorted(e["data"]["outputs"]["loop_round"] for e in host.named("loop_completed"))
    assert rounds == [1, 2, 4]


def test_an_answer_inside_an_iteration_is_sent_by_every_item() -> None:
    g = graph(
        [
            start(),
            node(
                "it",
                "iteration",
                iterator_selector=["start", "data", "items"],
                output_selector=["say", "answer"],
                start_node_id="itstart",
            ),
            inner("itstart", "iteration-start", "it"),
            inner("say", "answer", "it", answer="[{{#it.index#}}={{#it.item#}}]"),
            node("done", "answer", answer=" done"),
        ],
        [edge("start", "it"), edge("itstart", "say"), edge("it", "done")],
    )
    outcome, host = run(g, {"items": ["x", "y"]}, mode="advanced-chat")
    assert outcome.status == "succeeded", outcome.error
    assert host.answer() == "[0=x][1=y] done"
    assert outcome.outputs == {"answer": "[0=x][1=y] done"}
