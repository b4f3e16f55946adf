"""Untrusted Jinja2 under a budget (docs/decisions/16-budgets.md): template-transform nodes and
jinja2 prompts of LLM nodes.

Jinja2's sandbox stops attribute escapes, not a short template that builds a huge value or loops
for minutes. :class:`GuardedEnvironment` closes that class in one place. Every operation that can
build a value or spend time runs through a guard:

- the arithmetic operators (``+ - * / // % **``, unary ``+ -``): an integer may not pass
  ``TEMPLATE_MAX_INT_BITS`` (checked before ``**`` and ``*`` compute), a string or a collection
  ``TEMPLATE_TRANSFORM_MAX_LENGTH`` (characters, items), ``%`` formatting is sized before it runs;
- every call (methods, macros, globals): methods of the built-in types are an allow-list; the
  ones that build from a width or a count (``ljust``, ``center``, ``zfill``, ``replace``,
  ``join``, ``expandtabs``, ``translate``, ``to_bytes``, ``str.format`` fields) are sized before
  they run, in-place growth (``list.append`` in a loop, ``dict.update``) is sized after;
- every filter, sized before (``center``, ``indent``, ``wordwrap``, ``replace``, ``join``,
  ``format``, ``batch``, ``slice``, ``string``, ``tojson``, ``pprint``, ``sum``) and after;
- ``~`` concatenation, every ``{{ }}`` and every piece of literal text emitted (inside macros and
  ``{% set %}`` blocks too), and every ``for`` loop iteration (the AST is rewritten at compile
  time, so no loop escapes the clock).

Each guard charges what it built to a per-render memory budget (``TEMPLATE_RENDER_MEMORY_BYTES``,
a conservative upper bound of the growth: garbage counts too) and looks at the clocks: thread CPU
time (``TEMPLATE_RENDER_CPU_SECONDS``), wall time (``TEMPLATE_RENDER_WALL_SECONDS``) and, at most
every ``STOP_CHECK_SECONDS``, the run's stop flag.
"""

from __future__ import annotations

import contextvars
import functools
import inspect
import re
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from jinja2 import nodes, pass_context
from jinja2.exceptions import SecurityError
from jinja2.runtime import Context
from jinja2.sandbox import SandboxedEnvironment, SandboxedEscapeFormatter, SandboxedFormatter
from jinja2.utils import generate_lorem_ipsum
from jinja2.visitor import NodeTransformer
from markupsafe import Markup

from apps_runtime.engine.host import StopRequested

STOP_CHECK_SECONDS = 0.2
MAX_JSON_INDENT = 16  # tojson(indent=...) repeats it on every line
MIB = 1024 * 1024


class TemplateTooLarge(SecurityError):
    """The template tried to build a value past a size limit."""


class TemplateBudgetExceeded(Exception):
    """The render used up its CPU time, wall time or memory budget."""


@dataclass
class RenderBudget:
    max_length: int
    max_int_bits: int
    memory_bytes: int
    cpu_seconds: float
    wall_seconds: float
    should_stop: Callable[[], bool] | None = None
    used_bytes: int = 0
    # ids of the objects the template was given (alive for the whole render): never charged
    inputs: frozenset[int] = frozenset()
    _cpu_ends: float = field(init=False)
    _wall_ends: float = field(init=False)
    _next_stop_check: float = field(init=False)

    def __post_init__(self) -> None:
        now = time.monotonic()
        self._cpu_ends = time.thread_time() + self.cpu_seconds
        self._wall_ends = now + self.wall_seconds
        self._next_stop_check = now + STOP_CHECK_SECONDS

    @classmethod
    def from_settings(cls, should_stop: Callable[[], bool] | None = None) -> RenderBudget:
        return cls(
            max_length=settings.TEMPLATE_TRANSFORM_MAX_LENGTH,
            max_int_bits=settings.TEMPLATE_MAX_INT_BITS,
            memory_bytes=settings.TEMPLATE_RENDER_MEMORY_BYTES,
            cpu_seconds=settings.TEMPLATE_RENDER_CPU_SECONDS,
            wall_seconds=settings.TEMPLATE_RENDER_WALL_SECONDS,
            should_stop=should_stop,
        )

    def tick(self) -> None:
        now = time.monotonic()
        if now >= self._wall_ends:
            raise TemplateBudgetExceeded(f"it ran longer than {self.wall_seconds:g} s")
        if time.thread_time() >= self._cpu_ends:
            raise TemplateBudgetExceeded(f"it used more than {self.cpu_seconds:g} s of CPU time")
        if self.should_stop is not None and now >= self._next_stop_check:
            self._next_stop_check = now + STOP_CHECK_SECONDS
            if self.should_stop():
                raise StopRequested()

    def charge(self, size: int) -> None:
        self.used_bytes += size
        if self.used_bytes > self.memory_bytes:
            raise TemplateBudgetExceeded(
                f"it built more than {self.memory_bytes / MIB:g} MiB of values"
            )

    def length(self, size: int, what: str = "a string") -> None:
        """Refuse ``what`` of ``size`` characters or items (before building it)."""
        if size > self.max_length:
            unit = "characters" if what == "a string" else "items"
            raise TemplateTooLarge(f"{what} of more than {self.max_length} {unit} would be built")

    def bits(self, size: int) -> None:
        if size > self.max_int_bits:
            raise TemplateTooLarge(f"a number over {self.max_int_bits} bits would be built")

    def built(self, value: Any) -> Any:
        """Check and charge a value an operation produced; returns it."""
        if isinstance(value, str | bytes | bytearray):
            self.length(len(value))
            self.charge(sys.getsizeof(value))
        elif isinstance(value, int) and not isinstance(value, bool):
            self.bits(value.bit_length())
            self.charge(sys.getsizeof(value))
        elif isinstance(value, list | tuple | dict | set | frozenset):
            self.length(len(value), "a collection")
            self.charge(memory_size(value, 4 * self.max_length, self.inputs))
        return value


def memory_size(value: Any, limit: int, skip: frozenset[int] = frozenset()) -> int:
    """The bytes of ``value`` and of everything in it (nested collections, keys and values,
    floats included), each object once, except the objects in ``skip`` (the render's inputs,
    which it did not build): a list of one-item lists holds most of its memory in its items.
    Stops after ``limit`` objects, so its cost is bounded like the value's size."""
    seen: set[int] = set(skip)
    stack = [value]
    total = steps = 0
    while stack and steps < limit:
        item = stack.pop()
        steps += 1
        if id(item) in seen:
            continue
        seen.add(id(item))
        total += sys.getsizeof(item)
        if isinstance(item, Mapping):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list | tuple | set | frozenset):
            stack.extend(item)
    return total


_budget: contextvars.ContextVar[RenderBudget | None] = contextvars.ContextVar(
    "template_budget", default=None
)


def input_ids(variables: Mapping[str, Any], limit: int) -> frozenset[int]:
    """The ids of the collections among the template's inputs (and in them, at most ``limit``):
    sorting or listing an input builds a new list of the same items, which are not new memory."""
    ids: set[int] = set()
    stack: list[Any] = list(variables.values())
    while stack and len(ids) < limit:
        item = stack.pop()
        if isinstance(item, Mapping | list | tuple | set | frozenset) and id(item) not in ids:
            ids.add(id(item))
            stack.extend(item.values() if isinstance(item, Mapping) else item)
    return frozenset(ids)


def _current() -> RenderBudget:
    budget = _budget.get()
    # Outside render() (nothing else renders with this environment): the settings' limits for
    # this one operation.
    return budget if budget is not None else RenderBudget.from_settings()


def text_size(value: Any, limit: int) -> int:
    """About how many characters ``str(value)`` has; stops counting past ``limit``, so it is
    cheap for values (even self-nesting ones) whose text would be huge."""
    total = 0
    stack = [value]
    while stack and total <= limit:
        item = stack.pop()
        if isinstance(item, str):
            total += len(item) + 2
        elif isinstance(item, bool) or item is None:
            total += 5
        elif isinstance(item, int):
            total += item.bit_length() * 30103 // 100000 + 2
        elif isinstance(item, float):
            total += 24
        elif isinstance(item, Mapping):
            total += 2 + 4 * len(item)
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list | tuple | set | frozenset):
            total += 2 + 2 * len(item)
            stack.extend(item)
        else:
            total += 64  # objects of the engine (undefined, namespace, loop): short reprs
    return total


# printf-style conversions: ``%(name)-08.3f``, ``%*d``, ``%%``
_PRINTF = re.compile(r"%(?:\([^)]*\))?[#0\- +]*(\*|\d+)?(?:\.(\*|\d+))?[hlL]?([a-zA-Z%])")


def _check_printf(fmt: str, args: Any) -> None:
    """Size ``fmt % args`` before it runs: widths, precisions and the arguments' text."""
    budget = _current()
    values = (
        list(args.values())
        if isinstance(args, Mapping)
        else (list(args) if isinstance(args, tuple) else [args])
    )
    stars = iter(v for v in values if isinstance(v, int))
    estimate = len(fmt)
    for match in _PRINTF.finditer(fmt):
        for number in match.group(1, 2):
            if number == "*":
                star = next(stars, 0)
                estimate += abs(star)
            elif number:
                estimate += int(number)
    for value in values:
        estimate += text_size(value, budget.max_length)
    budget.length(estimate)


class _FieldGuard:
    """``str.format`` fields are sized as they are formatted (nested widths already filled)."""

    produced = 0

    def convert_field(self, value: Any, conversion: str | None) -> Any:
        budget = _current()
        budget.tick()
        if conversion:
            budget.length(text_size(value, budget.max_length))
        return super().convert_field(value, conversion)  # type: ignore[misc]

    def format_field(self, value: Any, format_spec: str) -> Any:
        budget = _current()
        budget.tick()
        for number in re.findall(r"\d+", format_spec):
            budget.length(int(number) if len(number) <= 9 else budget.max_length + 1)
        budget.length(text_size(value, budget.max_length))
        result = super().format_field(value, format_spec)  # type: ignore[misc]
        self.produced += len(result)
        budget.length(self.produced)
        return result


class _GuardedFormatter(_FieldGuard, SandboxedFormatter):
    pass


class _GuardedEscapeFormatter(_FieldGuard, SandboxedEscapeFormatter):
    pass


def _limit_width(width: Any, base: int) -> None:
    if isinstance(width, int):
        _current().length(max(base, width))


def _str_precheck(text: str, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple:
    """Size a ``str`` method call that can build from a width or a count; returns the args to
    call with (an iterable to ``join`` becomes a list, so it is read once)."""
    budget = _current()
    if name in ("ljust", "rjust", "center", "zfill") and args:
        _limit_width(args[0], len(text))
    elif name == "expandtabs":
        size = args[0] if args else kwargs.get("tabsize", 8)
        if isinstance(size, int):
            budget.length(len(text) + text.count("\t") * max(size, 0))
    elif name == "replace" and len(args) >= 2:
        old, new = args[0], args[1]
        count = args[2] if len(args) > 2 else kwargs.get("count", -1)
        if isinstance(old, str) and isinstance(new, str) and len(new) > len(old):
            found = len(text) + 1 if old == "" else text.count(old)
            if isinstance(count, int) and count >= 0:
                found = min(found, count)
            budget.length(len(text) + found * (len(new) - len(old)))
    elif name == "join" and args:
        items = list(args[0])
        budget.length(len(items), "a collection")
        total = len(text) * max(len(items) - 1, 0)
        for item in items:
            total += len(item) if isinstance(item, str) else 0
            budget.length(total)
        return (items, *args[1:])
    elif name == "translate" and args and isinstance(args[0], Mapping):
        widest = max((len(v) for v in args[0].values() if isinstance(v, str)), default=1)
        budget.length(len(text) * max(widest, 1))
    return args


# Methods of the built-in value types a template may call: the ones whose result is bounded by
# their inputs, plus the ones _str_precheck sizes and the in-place ones sized afterwards.
_STR_METHODS = frozenset(
    "capitalize casefold center count encode endswith expandtabs find format format_map index "
    "isalnum isalpha isascii isdecimal isdigit isidentifier islower isnumeric isprintable "
    "isspace istitle isupper join ljust lower lstrip partition removeprefix removesuffix replace "
    "rfind rindex rjust rpartition rsplit rstrip split splitlines startswith strip swapcase title "
    "translate upper zfill".split()
)
_SAFE_METHODS: dict[type, frozenset[str]] = {
    str: _STR_METHODS,
    # bytes only come from to_bytes/encode: no method that pads or repeats
    bytes: frozenset(
        "count decode endswith find hex index isalnum isalpha isascii isdigit islower isspace "
        "istitle isupper lower lstrip rfind rindex rsplit rstrip split splitlines startswith "
        "strip upper".split()
    ),
    int: frozenset("bit_length bit_count conjugate to_bytes as_integer_ratio".split()),
    float: frozenset("is_integer as_integer_ratio conjugate hex".split()),
    list: frozenset("append extend insert index count copy pop remove reverse sort clear".split()),
    tuple: frozenset("index count".split()),
    dict: frozenset("get items keys values copy pop popitem setdefault update clear".split()),
    set: frozenset(
        "add update union intersection difference symmetric_difference issubset issuperset "
        "isdisjoint copy pop remove discard clear".split()
    ),
}
_GROWING = frozenset("append extend insert update add setdefault".split())


def _method_owner(obj: Any) -> tuple[Any, type | None, str]:
    owner = getattr(obj, "__self__", None)
    name = getattr(obj, "__name__", "")
    for kind in (str, bytes, bool, int, float, list, tuple, dict, set):
        if isinstance(owner, kind) and not isinstance(owner, type):
            return owner, (int if kind is bool else kind), name
    return owner, None, name


def _lipsum(n: int = 5, html: bool = True, min: int = 20, max: int = 100) -> str:
    """``lipsum`` with its sizes bounded (the default one loops ``n * max`` times)."""
    if not (isinstance(n, int) and isinstance(max, int)) or n > 100 or max > 1000:
        raise TemplateTooLarge("lipsum() is limited to 100 paragraphs of 1000 words")
    return str(generate_lorem_ipsum(n=n, html=html, min=min, max=max))


# --- filters ----------------------------------------------------------------------------------


def _filter_precheck(name: str, value: Any, arguments: dict[str, Any]) -> None:
    budget = _current()
    text = value if isinstance(value, str) else ""
    if name == "center":
        _limit_width(arguments.get("width", 80), len(text))
    elif name == "indent":
        width = arguments.get("width", 4)
        step = len(width) if isinstance(width, str) else width if isinstance(width, int) else 0
        budget.length(len(text) + (text.count("\n") + 1) * max(step, 0))
    elif name == "wordwrap":
        width = arguments.get("width", 79)
        wrap = arguments.get("wrapstring") or "\n"
        lines = len(text) // max(width if isinstance(width, int) else 1, 1) + text.count("\n")
        budget.length(len(text) + (lines + 1) * len(str(wrap)))
    elif name == "replace":
        count = arguments.get("count")
        _str_precheck(text, "replace", (arguments.get("old"), arguments.get("new")), {})
        if count is None or not isinstance(count, int) or count < 0:
            return
    elif name == "format":
        _check_printf(text, arguments.get("kwargs") or tuple(arguments.get("args") or ()))
    elif name == "batch" and arguments.get("fill_with") is not None:
        count = arguments.get("linecount")
        if isinstance(count, int):
            budget.length(count, "a collection")
    elif name == "slice":
        count = arguments.get("slices")
        if isinstance(count, int):
            budget.length(count, "a collection")
    elif name in ("string", "tojson", "pprint", "urlencode", "xmlattr"):
        budget.length(text_size(value, budget.max_length))
        indent = arguments.get("indent")
        if isinstance(indent, int | str) and not isinstance(indent, bool):
            if (len(indent) if isinstance(indent, str) else indent) > MAX_JSON_INDENT:
                raise TemplateTooLarge(f"tojson indent is limited to {MAX_JSON_INDENT}")
    elif name in ("join", "sum"):  # the iterable was read into a list by _guard_filter
        items = value
        budget.length(len(items), "a collection")
        if name == "join":
            sep = arguments.get("d", "")
            total = len(sep) * max(len(items) - 1, 0)
            for item in items:
                total += text_size(item, budget.max_length)
                budget.length(total)
        elif isinstance(arguments.get("start"), list | tuple):
            total = len(arguments["start"])
            for item in items:
                total += len(item) if isinstance(item, list | tuple) else 1
            budget.length(total, "a collection")


def _guard_filter(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    # Filters with an async variant take Jinja2's context argument in a wrapper and drop it when
    # the plain function does not want it: bind the arguments against the plain function.
    original = inspect.unwrap(func)
    signature = inspect.signature(original)
    own_context = getattr(original, "jinja_pass_arg", None) is not None
    extra = getattr(func, "jinja_pass_arg", None) is not None and not own_context
    value_name = list(signature.parameters)[1 if own_context else 0]

    @functools.wraps(func)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        budget = _current()
        budget.tick()
        head, rest = (args[:1], args[1:]) if extra else ((), args)
        try:
            bound = signature.bind(*rest, **kwargs)
        except TypeError:
            return func(*args, **kwargs)  # let the filter report its own misuse
        value = bound.arguments.get(value_name)
        if name in ("join", "sum") and value is not None:  # read the iterable once
            value = bound.arguments[value_name] = list(value)
        _filter_precheck(name, value, dict(bound.arguments))
        return budget.built(func(*head, *bound.args, **bound.kwargs))

    return guarded


# --- compile-time rewriting -------------------------------------------------------------------

ITER = "__guarded_iter__"
CONCAT = "__guarded_concat__"
EMIT = "__guarded_emit__"


# pass_context: Jinja2 never evaluates these at compile time (constant folding would skip them).
@pass_context
def _guarded_iter(context: Context, value: Iterable[Any]) -> Iterator[Any]:
    budget = _current()
    for item in value:
        budget.tick()
        yield item


@pass_context
def _guarded_concat(context: Context, parts: tuple[Any, ...]) -> str:
    budget = _current()
    budget.tick()
    total = 0
    for part in parts:
        total += len(part) if isinstance(part, str) else text_size(part, budget.max_length)
        budget.length(total)
    return str(budget.built("".join(map(str, parts))))


@pass_context
def _guarded_emit(context: Context, value: Any) -> Any:
    """Every piece of output, wherever it goes (the result, a macro, a ``set`` block): the
    render's output is capped by its reader; text that becomes a value is charged here."""
    budget = _current()
    budget.tick()
    if isinstance(value, str):
        size = len(value)
    else:
        size = text_size(value, budget.max_length)
        budget.length(size)
    budget.charge(size)
    return value


class _Rewrite(NodeTransformer):
    """Route loops, ``~`` and output through the guards (Jinja2 compiles them inline)."""

    def visit_For(self, node: nodes.For) -> nodes.Node:
        self.generic_visit(node)
        node.iter = nodes.Filter(node.iter, ITER, [], [], None, None, lineno=node.lineno)
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        self.generic_visit(node)
        parts = nodes.Tuple(node.nodes, "load", lineno=node.lineno)
        return nodes.Filter(parts, CONCAT, [], [], None, None, lineno=node.lineno)

    def visit_Output(self, node: nodes.Output) -> nodes.Node:
        self.generic_visit(node)
        node.nodes = [
            nodes.Filter(child, EMIT, [], [], None, None, lineno=child.lineno)
            for child in node.nodes
        ]
        return node


# --- the environment --------------------------------------------------------------------------


class GuardedEnvironment(SandboxedEnvironment):
    intercepted_binops = frozenset({"+", "-", "*", "/", "//", "%", "**"})
    intercepted_unops = frozenset({"+", "-"})

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.filters = {name: _guard_filter(name, f) for name, f in self.filters.items()}
        self.filters[ITER] = _guarded_iter
        self.filters[CONCAT] = _guarded_concat
        self.filters[EMIT] = _guarded_emit
        self.globals["lipsum"] = _lipsum

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        template = super()._parse(source, name, filename)
        return _Rewrite().visit(template)  # type: ignore[no-any-return]

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        budget = _current()
        budget.tick()
        if operator == "**" and _is_int(left) and _is_int(right) and right > 0:
            if abs(left) > 1:
                budget.bits((abs(left).bit_length() - 1) * right + 1)
        elif operator == "*":
            for sequence, times in ((left, right), (right, left)):
                if isinstance(sequence, str | list | tuple) and _is_int(times):
                    what = "a string" if isinstance(sequence, str) else "a collection"
                    budget.length(len(sequence) * times, what)
            if _is_int(left) and _is_int(right):
                budget.bits(left.bit_length() + right.bit_length())
        elif operator == "+":
            if isinstance(left, str | list | tuple) and isinstance(right, str | list | tuple):
                budget.length(len(left) + len(right))
        elif operator == "%" and isinstance(left, str):
            _check_printf(left, right)
        return budget.built(super().call_binop(context, operator, left, right))

    def call_unop(self, context: Any, operator: str, arg: Any) -> Any:
        _current().tick()
        return super().call_unop(context, operator, arg)

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        budget = _current()
        budget.tick()
        owner, kind, name = _method_owner(__obj)
        if kind is not None:
            if name not in _SAFE_METHODS[kind]:
                raise SecurityError(f"{kind.__name__}.{name}() is not allowed in templates")
            if kind is str:
                args = _str_precheck(owner, name, args, kwargs)
            elif kind is int and name == "to_bytes":
                length = args[0] if args else kwargs.get("length", 1)
                if isinstance(length, int):
                    budget.length(length)
            elif name in _GROWING:
                for arg in (*args, *kwargs.values()):
                    budget.charge(sys.getsizeof(arg))
        result = super().call(__context, __obj, *args, **kwargs)
        if kind in (list, dict, set) and name in _GROWING:
            budget.length(len(owner), "a collection")
        return budget.built(result)

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        """``str.format`` / ``format_map`` through a formatter that sizes every field."""
        name = getattr(value, "__name__", None)
        owner = getattr(value, "__self__", None)
        if name not in ("format", "format_map") or not isinstance(owner, str):
            return None
        text: str = owner
        escape = isinstance(text, Markup)
        env = self

        def wrapper(*args: Any, **kwargs: Any) -> str:
            formatter: SandboxedFormatter
            if escape:
                formatter = _GuardedEscapeFormatter(env, escape=Markup.escape)
            else:
                formatter = _GuardedFormatter(env)
            if name == "format_map":
                if kwargs or len(args) != 1:
                    raise TypeError("format_map() takes exactly one argument")
                mapping = args[0]
                return type(text)(formatter.vformat(text, (), mapping))
            return type(text)(formatter.vformat(text, args, kwargs))

        return functools.update_wrapper(wrapper, value)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


_environment = GuardedEnvironment(autoescape=False, keep_trailing_newline=True)


def render(
    source: str,
    variables: dict[str, Any],
    *,
    max_length: int,
    should_stop: Callable[[], bool] | None = None,
) -> str | None:
    """Render ``source`` under the settings' budget; ``None`` when the output passed
    ``max_length`` characters (the render stops there). Raises Jinja2's errors,
    ``TemplateBudgetExceeded``, ``TemplateTooLarge`` and ``StopRequested``."""
    budget = RenderBudget.from_settings(should_stop)
    budget.inputs = input_ids(variables, 4 * max_length)
    token = _budget.set(budget)
    try:
        template = _environment.from_string(source)
        parts: list[str] = []
        size = 0
        for chunk in template.generate(**variables):
            size += len(chunk)
            if size > max_length:
                return None
            budget.tick()
            parts.append(chunk)
        return "".join(parts)
    finally:
        _budget.reset(token)
