"""Parsing and validation of DSL files: every named error, warnings, and what is kept."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from apps_runtime.dsl import (
    CURRENT_DSL_VERSION,
    DslError,
    dsl_parse,
    unsupported_node_types,
)
from apps_runtime.dsl.version import check_version
from apps_runtime.engine.nodes import runnable_node_types

FIXTURES = Path(__file__).parent / "fixtures" / "dsl"

# (broken file, a fragment the error message must contain)
BROKEN = [
    ("invalid_yaml.yml", "invalid YAML"),
    ("not_a_mapping.yml", "must be a YAML mapping at the top level, not a list"),
    ("empty.yml", "the DSL file is empty"),
    ("missing_mode.yml", "missing app.mode"),
    ("unknown_mode.yml", "unknown app.mode 'chatbot'"),
    ("version_not_a_string.yml", "version must be a string"),
    ("version_newer.yml", "unsupported DSL version '0.7.0': newer than the supported 0.6.0"),
    ("version_unparsable.yml", "unsupported DSL version 'latest'"),
    ("workflow_without_graph.yml", "a workflow app needs a workflow block with workflow.graph"),
    ("workflow_no_start.yml", "workflow.graph has no start node"),
    ("workflow_no_path_to_end.yml", "no path from the start node to an end node"),
    ("chatflow_no_path_to_answer.yml", "no path from the start node to an answer node"),
    ("chat_without_model_config.yml", "a chat app needs a model_config block"),
]


def minimal_workflow(mode: str = "workflow", **extra_nodes: dict) -> dict:
    terminal = "end" if mode == "workflow" else "answer"
    return {
        "app": {"name": "Minimal", "mode": mode},
        "kind": "app",
        "version": CURRENT_DSL_VERSION,
        "workflow": {
            "graph": {
                "nodes": [
                    {"id": "start", "data": {"type": "start", "variables": []}},
                    {"id": "last", "data": {"type": terminal}},
                ],
                "edges": [{"source": "start", "target": "last"}],
            }
        },
    }


def parse(doc: dict):
    return dsl_parse(yaml.safe_dump(doc, allow_unicode=True))


@pytest.mark.parametrize(("filename", "fragment"), BROKEN, ids=[b[0] for b in BROKEN])
def test_broken_file_names_its_problem(filename, fragment):
    with pytest.raises(DslError) as caught:
        dsl_parse((FIXTURES / "broken" / filename).read_bytes())
    assert fragment in caught.value.message


def test_invalid_yaml_names_the_line():
    with pytest.raises(DslError) as caught:
        dsl_parse((FIXTURES / "broken" / "invalid_yaml.yml").read_text())
    assert "line " in caught.value.message


@pytest.mark.parametrize("mode", ["channel", "rag-pipeline", 3, ["workflow"]])
def test_modes_without_an_app_dsl_are_unknown(mode):
    doc = minimal_workflow()
    doc["app"]["mode"] = mode
    with pytest.raises(DslError, match=re.escape("unknown app.mode")):
        parse(doc)


def test_the_app_block_is_required():
    with pytest.raises(DslError, match="missing the app block"):
        dsl_parse("kind: app\nversion: 0.6.0\n")
    with pytest.raises(DslError, match="app must be a mapping"):
        dsl_parse("app: [workflow]\n")


@pytest.mark.parametrize(
    ("version", "warned"),
    [("0.6.0", False), ("0.6.3", None), ("0.5.0", True), ("0.1.5", True), ("0.6", False)],
)
def test_version_rules(version, warned):
    doc = minimal_workflow()
    doc["version"] = version
    if warned is None:  # a newer patch is newer than supported
        with pytest.raises(DslError, match="newer than the supported"):
            parse(doc)
        return
    parsed = parse(doc)
    assert parsed.version == version
    assert any("older than the supported" in w for w in parsed.warnings) is warned


def test_a_missing_version_is_dify_default_and_warned():
    doc = minimal_workflow()
    del doc["version"]
    parsed = parse(doc)
    assert parsed.version == "0.1.0"
    assert parsed.dsl_extra["version"] == "0.1.0"
    assert "DSL version 0.1.0 is older than the supported 0.6.0; imported as is" in parsed.warnings


def test_a_different_major_version_is_refused():
    with pytest.raises(DslError, match=re.escape("major version differs from the supported 1.2.0")):
        check_version("0.9.0", current="1.2.0")
    with pytest.raises(DslError, match=re.escape("newer than the supported 0.6.0")):
        check_version("1.0.0")


def test_kind_other_than_app_is_imported_as_app_with_a_warning():
    doc = minimal_workflow()
    doc["kind"] = "rag_pipeline"
    parsed = parse(doc)
    assert parsed.dsl_extra["kind"] == "app"
    assert any("kind 'rag_pipeline'" in w for w in parsed.warnings)


def test_graph_problems_are_named():
    doc = minimal_workflow()
    doc["workflow"]["graph"]["nodes"].append({"id": "start", "data": {"type": "llm"}})
    with pytest.raises(DslError, match="two nodes with id 'start'"):
        parse(doc)

    doc = minimal_workflow()
    doc["workflow"]["graph"]["nodes"].append({"id": "x", "data": {"title": "no type"}})
    with pytest.raises(DslError, match=r"nodes\[2\] \(id 'x'\) has no data.type"):
        parse(doc)

    doc = minimal_workflow()
    doc["workflow"]["graph"]["edges"].append({"source": "start"})
    with pytest.raises(DslError, match=r"edges\[1\] needs a source and a target"):
        parse(doc)

    doc = minimal_workflow()
    doc["workflow"]["graph"]["nodes"].append({"id": "s2", "data": {"type": "start"}})
    with pytest.raises(DslError, match="2 start nodes"):
        parse(doc)

    doc = minimal_workflow()
    doc["workflow"]["graph"] = {"nodes": "start"}
    with pytest.raises(DslError, match=re.escape("workflow.graph.nodes must be a list")):
        parse(doc)


def test_environment_variables_need_a_name_and_a_value():
    doc = minimal_workflow()
    doc["workflow"]["environment_variables"] = [{"name": "KEY", "value": None}]
    with pytest.raises(DslError, match=r"environment_variables\[0\] \(KEY\) has no value"):
        parse(doc)
    doc["workflow"]["environment_variables"] = [{"value": "x"}]
    with pytest.raises(DslError, match=r"environment_variables\[0\] has no name"):
        parse(doc)


def test_the_terminal_node_may_sit_inside_a_container():
    doc = minimal_workflow("advanced-chat")
    graph = doc["workflow"]["graph"]
    graph["nodes"] = [
        {"id": "start", "data": {"type": "start"}},
        {"id": "loop", "data": {"type": "loop", "start_node_id": "loopstart"}},
        {"id": "loopstart", "parentId": "loop", "data": {"type": "loop-start"}},
        {"id": "reply", "parentId": "loop", "data": {"type": "answer", "answer": "x"}},
    ]
    graph["edges"] = [
        {"source": "start", "target": "loop"},
        {"source": "loopstart", "target": "reply"},
    ]
    parsed = parse(doc)
    assert parsed.unsupported_node_types == []


def test_sticky_notes_are_not_nodes():
    doc = minimal_workflow()
    doc["workflow"]["graph"]["nodes"].append(
        {"id": "note", "type": "custom-note", "data": {"type": "", "text": "hello"}}
    )
    parsed = parse(doc)
    assert parsed.warnings == []
    assert parsed.workflow is not None
    assert parsed.workflow.graph["nodes"][-1]["id"] == "note"  # kept for export


def test_unrunnable_node_types_are_warned_and_listed():
    doc = minimal_workflow()
    nodes = doc["workflow"]["graph"]["nodes"]
    nodes += [
        {"id": "c", "data": {"type": "datasource"}},
        {"id": "t", "data": {"type": "knowledge-retrieval"}},
        {"id": "c2", "data": {"type": "datasource"}},
    ]
    parsed = parse(doc)
    assert parsed.unsupported_node_types == ["datasource", "knowledge-retrieval"]
    assert parsed.warnings == [
        "the engine cannot run node type(s) datasource, knowledge-retrieval; runs of this app "
        "answer app_unavailable until it can"
    ]


def test_runnable_node_types_raise_no_warning():
    graph = {"nodes": [{"id": kind, "data": {"type": kind}} for kind in runnable_node_types()]}
    assert unsupported_node_types(graph) == []
    for kind in ("knowledge-retrieval", "datasource"):
        assert unsupported_node_types({"nodes": [{"id": "n", "data": {"type": kind}}]}) == [kind]


def test_prompt_app_without_a_model_is_warned():
    parsed = dsl_parse("app: {name: Bare, mode: completion}\nversion: 0.6.0\nmodel_config: {}\n")
    assert parsed.model_config == {}
    assert any("names no provider and model" in w for w in parsed.warnings)


def test_unknown_keys_are_kept_at_every_level():
    doc = minimal_workflow()
    doc["x_top"] = {"a": [1, 2]}
    doc["app"]["x_app"] = "kept"
    doc["workflow"]["x_block"] = [{"k": "v"}]
    doc["model_config"] = {"ignored": "by a workflow app, but kept"}
    parsed = parse(doc)
    assert parsed.dsl_extra["x_top"] == {"a": [1, 2]}
    assert parsed.dsl_extra["model_config"] == {"ignored": "by a workflow app, but kept"}
    assert parsed.dsl_extra["app"] == {"x_app": "kept", "use_icon_as_answer_icon": False}
    assert parsed.workflow is not None and parsed.workflow.extra == {"x_block": [{"k": "v"}]}


def test_app_fields_are_normalised_like_dify():
    doc = minimal_workflow()
    doc["app"].update(icon_type="sticker", icon=None, description=None)
    parsed = parse(doc)
    assert (parsed.icon_type, parsed.icon, parsed.description) == ("emoji", "", "")
    assert parsed.icon_background == "#FFFFFF"
    doc["app"]["name"] = "n" * 256
    with pytest.raises(DslError, match=re.escape("app.name is longer than 255 characters")):
        parse(doc)


def test_yaml_values_without_a_json_form():
    text = (
        "app: {name: Dates, mode: chat}\nversion: 0.6.0\n"
        "model_config: {pre_prompt: x, when: 2024-05-01, 7: seven}\n"
    )
    parsed = dsl_parse(text)
    assert parsed.model_config == {"pre_prompt": "x", "when": "2024-05-01", "7": "seven"}
    with pytest.raises(DslError, match=r"model_config.n: nan has no JSON form"):
        dsl_parse("app: {name: N, mode: chat}\nmodel_config: {n: .nan}\n")
    with pytest.raises(DslError, match="NUL character"):
        dsl_parse('app: {name: "a\\0b", mode: chat}\nmodel_config: {}\n')


def test_alias_bombs_and_huge_files_are_refused(settings):
    settings.MAX_DSL_BYTES = 4096
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for level in range(1, 9):
        refs = ", ".join([f"*a{level - 1}"] * 10)
        lines.append(f"a{level}: &a{level} [{refs}]")
    lines.append("app: {name: Bomb, mode: chat}\nmodel_config: {bomb: *a8}")
    with pytest.raises(DslError, match="expands to more than"):
        dsl_parse("\n".join(lines))
    with pytest.raises(DslError, match="larger than"):
        dsl_parse(b"#" * 4097)
    with pytest.raises(DslError, match="not UTF-8"):
        dsl_parse(b"app: {name: \xff\xfe, mode: chat}")


def test_a_deeply_nested_file_is_a_named_error():
    deep = "[" * 2000 + "]" * 2000
    text = (
        "app: {name: x, mode: chat}\nversion: '0.6.0'\n"
        f"model_config: {{pre_prompt: a, x: {deep}}}\n"
    )
    with pytest.raises(DslError, match="nested too deeply"):
        dsl_parse(text)


@pytest.mark.parametrize(
    "fragment",
    ['app: {name: "x\\ud800y", mode: chat}', 'app: {name: x, mode: chat, "k\\udfff": 1}'],
)
def test_lone_surrogates_are_a_named_error(fragment):
    text = f"{fragment}\nversion: '0.6.0'\nmodel_config: {{pre_prompt: a}}\n"
    with pytest.raises(DslError, match="lone surrogate"):
        dsl_parse(text)


def test_the_registry_is_what_can_run():
    from apps_runtime.engine.nodes import NODE_TYPES

    expected = {"start", "end", "answer", "llm", "template-transform", "if-else"}
    expected |= {"variable-aggregator", "variable-assigner", "http-request", "human-input"}
    expected |= {"question-classifier", "parameter-extractor", "list-operator"}
    expected |= {"document-extractor"}
    expected |= {"code"}
    expected |= {"iteration", "iteration-start", "loop", "loop-start", "loop-end", "assigner"}
    expected |= {"tool", "agent"}
    assert runnable_node_types() == expected
    assert all(callable(getattr(cls, "run", None)) for cls in NODE_TYPES.values())
