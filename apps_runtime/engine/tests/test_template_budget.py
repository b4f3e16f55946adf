"""Hostile templates fail their node quickly with a clear message (docs/decisions/16-budgets.md);
ordinary templates still render. Budgets are shrunk by settings so each case stays cheap."""

from __future__ import annotations

import re
import threading
import time
from typing import Any

import pytest

from apps_runtime.engine import run_workflow
from apps_runtime.engine.tests.enginehost import RecordingHost, edge, graph, node

LIMIT = 10_000  # characters of a string or the output, items of a collection
NEST = "{% set ns = namespace(l=[1]) %}{% for i in range(60) %}{% set ns.l = [ns.l, ns.l] %}"
NEST += "{% endfor %}"
CLEAR = re.compile(
    r"Template is not allowed: |Template stopped: |Output length exceeds|too deeply nested"
)

HOSTILE = [
    # integers: every arithmetic path, sized before computing
    "{{ ((7 ** 500) ** 500) ** 30 }}",
    "{{ (3 ** 4000) * (3 ** 4000) }}",
    "{{ (-5) ** 4000 * 11 ** 3000 }}",
    "{% set ns = namespace(n=3) %}{% for i in range(64) %}{% set ns.n = ns.n * ns.n %}"
    "{% endfor %}{{ ns.n }}",
    "{% set ns = namespace(n=3) %}{% for i in range(64) %}{% set ns.n = ns.n ** 2 %}"
    "{% endfor %}{{ ns.n }}",
    "{{ [2 ** 4000, 2 ** 4000]|sum * 2 ** 4000 }}",
    "{{ ('9' * 1200)|int * ('9' * 1200)|int * ('9' * 1200)|int }}",
    "{{ (2 ** 4000)|abs * 2 ** 200 }}",
    "{{ (1).to_bytes(900000, 'big')|length }}",
    "{{ (1).to_bytes(9000, 'big').center(900000)|length }}",
    # printf and str.format widths and precisions
    "{{ '%0800000d'|format(1) }}",
    "{{ '%.900000f' % 1.5 }}",
    "{{ '%*d' % (900000, 1) }}",
    "{{ '%(a)900000s' % {'a': 1} }}",
    "{{ '{:>900000}'.format('a') }}",
    "{{ '{0:{1}}'.format('a', 900000) }}",
    "{{ '{:0900000.2f}'.format(1.5) }}",
    "{{ '{a:^900000}'.format_map({'a': 1}) }}",
    "{{ '{0}{0}{0}'.format('q' * 9000) }}",
    # widths and counts of string methods and filters
    "{{ 'ab'.ljust(900000) }}",
    "{{ 'ab'.rjust(900000)|length }}",
    "{{ 'ab'.center(900000)|length }}",
    "{{ '7'.zfill(900000)|length }}",
    "{{ 'x'|center(900000) }}",
    "{{ ('a' * 5000)|replace('a', 'bbbbbbbbbb') }}",
    "{{ ('a' * 5000).replace('', 'zz')|length }}",
    "{{ 'a\tb'.expandtabs(900000)|length }}",
    "{{ ('line\n' * 2000)|indent(500) }}",
    "{{ ('line\n' * 2000)|indent('-' * 500)|length }}",
    "{{ ('w ' * 4000)|wordwrap(1, wrapstring='-' * 100)|length }}",
    "{{ 'abc'.translate({97: 'q' * 9000}) }}",
    # concatenation and joins, once or doubling in a loop
    "{{ ('x' * 9000) ~ ('y' * 9000) }}",
    "{{ ('x' * 9000) + ('y' * 9000) }}",
    "{% set ns = namespace(s='ab') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}"
    "{% endfor %}{{ ns.s|length }}",
    "{% set ns = namespace(s='ab') %}{% for i in range(40) %}{% set ns.s = ns.s + ns.s %}"
    "{% endfor %}{{ ns.s|length }}",
    "{{ (['x' * 9000] * 50)|join }}",
    "{{ ','.join(['y' * 9000] * 50)|length }}",
    "{{ range(5000)|map('string')|join('-' * 100)|length }}",
    # collections: repetition, padding, in-place growth
    "{{ ([1] * 9000 + [2] * 9000)|length }}",
    "{{ [0]|batch(900000, 'z')|list|length }}",
    "{{ [0]|slice(900000)|list|length }}",
    "{% set l = [] %}{% for i in range(100000) %}{% set _ = l.append('x' * 9000) %}{% endfor %}"
    "{{ l|length }}",
    "{% set l = ['a'] %}{% for i in range(30) %}{% set _ = l.extend(l) %}{% endfor %}"
    "{{ l|length }}",
    "{% set d = {} %}{% for i in range(100000) %}{% set _ = d.update({i: i}) %}{% endfor %}"
    "{{ d|length }}",
    "{{ [[1] * 5000, [2] * 5000, [3] * 5000]|sum(start=[])|length }}",
    # values whose text is huge though they are small in memory
    NEST + "{{ ns.l }}",
    NEST + "{{ ns.l|string|length }}",
    NEST + "{{ ns.l|tojson|length }}",
    "{{ [[1, 2], [3, 4]]|tojson(indent=900000)|length }}",
    NEST + "{{ ns.l|pprint|length }}",
    NEST + "{{ ('%s' % ns.l)|length }}",
    NEST + "{{ '{}'.format(ns.l)|length }}",
    NEST + "{{ (ns.l ~ '')|length }}",
    # output built where the output cap does not see it: blocks, macros
    "{% set s %}{% for i in range(100000) %}{{ 'x' * 9000 }}{% endfor %}{% endset %}{{ s|length }}",
    "{% set s %}{% for i in range(100000) %}" + "L" * 2000 + "{% endfor %}{% endset %}"
    "{{ s|length }}",
    "{% macro f(n) %}{% if n %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}x{% endmacro %}{{ f(40) }}",
    "{% filter upper %}{% for i in range(100000) %}" + "abcdefghij" * 100 + "{% endfor %}"
    "{% endfilter %}",
    # time: loops that build nothing, recursion, the output cap
    "{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}",
    "{% for a in range(100000) %}{% for b in range(100000) %}{% if b == -1 %}x{% endif %}"
    "{% endfor %}{% endfor %}",
    "{% for a in range(100000) %}{{ range(2000)|list|sort|first }}{% endfor %}",
    "{% macro r(n) %}{{ r(n + 1) }}{% endmacro %}{{ r(0) }}",
    "{{ lipsum(100000) }}",
    "{% for i in range(100000) %}{{ 'x' * 900 }}{% endfor %}",
]


@pytest.fixture
def small_budget(settings: Any) -> None:
    settings.TEMPLATE_TRANSFORM_MAX_LENGTH = LIMIT
    settings.TEMPLATE_RENDER_CPU_SECONDS = 0.25
    settings.TEMPLATE_RENDER_WALL_SECONDS = 2
    settings.TEMPLATE_RENDER_MEMORY_BYTES = 4 * 1024 * 1024
    settings.TEMPLATE_MAX_INT_BITS = 4096


def transform(template: str, host: RecordingHost | None = None) -> Any:
    g = graph(
        [
            node("start", "start", variables=[]),
            node("t", "template-transform", template=template, variables=[]),
            node("end", "end", outputs=[{"variable": "out", "value_selector": ["t", "output"]}]),
        ],
        [edge("start", "t"), edge("t", "end")],
    )
    return run_workflow(
        g,
        mode="workflow",
        inputs={},
        system={},
        environment={},
        conversation={},
        host=host or RecordingHost(),
    )


@pytest.mark.parametrize("template", HOSTILE)
def test_a_hostile_template_fails_its_node_quickly(small_budget: None, template: str) -> None:
    started = time.monotonic()
    outcome = transform(template)
    took = time.monotonic() - started
    assert outcome.status == "failed", outcome.outputs
    assert CLEAR.search(outcome.error or ""), outcome.error
    assert took < 2.5


ORDINARY = (
    "{% set rows = [] %}{% for i in range(1, 6) %}{% set _ = rows.append(i * i) %}{% endfor %}"
    "{{ rows|join(', ') }}|{{ '%05.1f' % 3.14159 }}|{{ '{:>6}'.format('ab') }}|"
    "{{ 'a-b'.replace('-', '+') }}|{{ 'x'|center(5) }}|{{ 2 ** 64 }}|"
    "{{ ('one two three'|wordwrap(7)).split('\n')|length }}|{{ [1, 2, 3]|sum }}|"
    "{{ 'ab' ~ 3 }}|{{ {'k': [1, 2]}|tojson }}|{{ 'z'.ljust(3, '.') }}|{{ -(3 // 2) }}"
    "{% macro m(x) %}<{{ x }}>{% endmacro %}|{{ m('q') }}|{{ range(3)|batch(2, 0)|list }}"
)


def test_an_ordinary_template_still_renders(small_budget: None) -> None:
    outcome = transform(ORDINARY)
    assert outcome.status == "succeeded", outcome.error
    assert outcome.outputs["out"] == (
        "1, 4, 9, 16, 25|003.1|    ab|a+b|  x  |18446744073709551616|2|6|ab3|"
        '{"k": [1, 2]}|z..|-1|<q>|[[0, 1], [2, 0]]'
    )


def test_the_default_budget_renders_a_large_honest_template() -> None:
    template = "{% for i in range(5000) %}{{ '%06d' % i }},{% endfor %}" + "y" * 300_000
    outcome = transform(template)
    assert outcome.status == "succeeded", outcome.error
    assert len(outcome.outputs["out"]) == 5000 * 7 + 300_000


def test_a_stop_ends_a_long_render_within_a_second(settings: Any) -> None:
    settings.TEMPLATE_RENDER_CPU_SECONDS = 30
    stop_at = time.monotonic() + 0.3
    host = RecordingHost(stop_when=lambda h: time.monotonic() >= stop_at)
    outcome = transform(
        "{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}", host
    )
    assert outcome.status == "stopped"
    assert time.monotonic() - stop_at < 1.0


def test_other_threads_keep_running_during_a_hostile_render(small_budget: None) -> None:
    """A render never holds the interpreter in one long operation: another thread (a request
    of another user) keeps getting turns while it runs."""
    done = threading.Event()
    gaps: list[float] = []

    def other_work() -> None:
        last = time.monotonic()
        while not done.is_set():
            time.sleep(0.005)
            now = time.monotonic()
            gaps.append(now - last)
            last = now

    worker = threading.Thread(target=other_work)
    worker.start()
    try:
        for template in ("{{ ((9 ** 999) ** 999) ** 3 }}", "{{ 'x' * 9000 * 9000 }}"):
            assert transform(template).status == "failed"
    finally:
        done.set()
        worker.join()
    assert max(gaps) < 0.25


def llm_with_jinja2_prompt(template: str, host: RecordingHost) -> Any:
    g = graph(
        [
            node("start", "start", variables=[]),
            node(
                "llm",
                "llm",
                model={"provider": "p", "name": "m", "mode": "chat"},
                prompt_template=[
                    {"role": "user", "edition_type": "jinja2", "jinja2_text": template}
                ],
                prompt_config={"jinja2_variables": []},
            ),
            node("end", "end", outputs=[{"variable": "out", "value_selector": ["llm", "text"]}]),
        ],
        [edge("start", "llm"), edge("llm", "end")],
    )
    return run_workflow(
        g, mode="workflow", inputs={}, system={}, environment={}, conversation={}, host=host
    )


def test_a_jinja2_prompt_over_the_cap_fails_the_node_and_is_never_sent(settings: Any) -> None:
    settings.TEMPLATE_TRANSFORM_MAX_LENGTH = 3000
    host = RecordingHost(replies=[["never"]])
    outcome = llm_with_jinja2_prompt("{% for i in range(1000) %}abcd{% endfor %}", host)
    assert outcome.status == "failed"
    assert outcome.error == "Prompt length exceeds 3000 characters"
    assert host.calls == []


def test_a_jinja2_prompt_under_the_cap_is_sent_whole(settings: Any) -> None:
    settings.TEMPLATE_TRANSFORM_MAX_LENGTH = 3000
    host = RecordingHost(replies=[["ok"]])
    outcome = llm_with_jinja2_prompt("{% for i in range(700) %}abcd{% endfor %}", host)
    assert outcome.status == "succeeded", outcome.error
    assert host.calls[0].messages == [{"role": "user", "content": "abcd" * 700}]


@pytest.mark.parametrize(
    "template",
    [
        "{{ ((3 ** 900) ** 900) ** 9 }}",
        "{{ '{:^800000}'.format(0) }}",
        "{% set l = [] %}{% for i in range(9999) %}{% set _ = l.append('p' * 9000) %}{% endfor %}",
    ],
)
def test_a_hostile_jinja2_prompt_fails_the_node_quickly(small_budget: None, template: str) -> None:
    host = RecordingHost(replies=[["never"]])
    started = time.monotonic()
    outcome = llm_with_jinja2_prompt(template, host)
    assert outcome.status == "failed"
    assert CLEAR.search(outcome.error or "") or "Prompt length" in (outcome.error or "")
    assert time.monotonic() - started < 2.5
    assert host.calls == []


# Collections of collections, floats and groups: small outer lists whose items hold the memory.
NESTED_GROWTH = [
    "{{ range(2000)|batch(1)|map('batch', 1)|list }}",
    "{{ range(2000)|batch(1)|list }}",
    "{{ range(2000)|groupby('real') }}",
]


def test_an_unknown_codec_fails_the_node_as_a_template_error() -> None:
    outcome = transform("{{ 'x'.encode('no-such-codec') }}")
    assert outcome.status == "failed"
    assert outcome.error == "Template error: unknown encoding: no-such-codec"


@pytest.mark.parametrize("value", NESTED_GROWTH)
def test_the_memory_budget_counts_what_nested_values_hold(
    small_budget: None, settings: Any, value: str
) -> None:
    """Kept values of this kind fail the render at the memory budget, not at several times it."""
    import tracemalloc

    settings.TEMPLATE_RENDER_CPU_SECONDS = 5
    settings.TEMPLATE_RENDER_WALL_SECONDS = 10
    settings.TEMPLATE_RENDER_MEMORY_BYTES = 2 * 1024 * 1024
    keep = value.removeprefix("{{ ").removesuffix(" }}")
    template = (
        "{% set keep = [] %}{% for i in range(1000) %}"
        "{% set _ = keep.append(" + keep + ") %}{% endfor %}{{ keep|length }}"
    )
    tracemalloc.start()
    try:
        outcome = transform(template)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert outcome.status == "failed"
    assert "built more than 2 MiB of values" in (outcome.error or ""), outcome.error
    assert peak < 3 * settings.TEMPLATE_RENDER_MEMORY_BYTES, peak / 1024 / 1024


def test_values_of_the_inputs_are_not_charged_again_each_time_they_are_listed(
    small_budget: None,
) -> None:
    """Sorting a large input in a loop builds only new lists of the same rows: the rows, which
    the render did not build, are never charged (a 4 MiB budget, rows of about 1 MiB)."""
    rows = [{"k": f"{i:05d}", "a": "x" * 40, "b": "y" * 40, "c": "z" * 40} for i in range(3000)]
    g = graph(
        [
            node("start", "start", variables=[]),
            node(
                "t",
                "template-transform",
                template="{% for i in range(12) %}{{ (rows|sort(attribute='k', reverse=true)"
                "|first).k }},{% endfor %}",
                variables=[{"variable": "rows", "value_selector": ["sys", "rows"]}],
            ),
            node("end", "end", outputs=[{"variable": "out", "value_selector": ["t", "output"]}]),
        ],
        [edge("start", "t"), edge("t", "end")],
    )
    outcome = run_workflow(
        g,
        mode="workflow",
        inputs={},
        system={"rows": rows},
        environment={},
        conversation={},
        host=RecordingHost(),
    )
    assert outcome.status == "succeeded", outcome.error
    assert outcome.outputs["out"] == "02999," * 12
