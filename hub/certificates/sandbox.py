"""A Jinja sandbox for issuers' certificate templates that also bounds the work a template can do.

Jinja's :class:`~jinja2.sandbox.SandboxedEnvironment` keeps a template away from Python internals, but
not from loops, big numbers or big strings: ``{% for i in range(3000) %}{% for j in range(3000) %}``
took 2.66 s per PDF, ``{{ 'x' * 10**9 }}`` allocates a gigabyte. :class:`CertificateSandbox` adds, per
render (:func:`render`):

- :data:`MAX_STEPS` loop iterations, function or macro calls and filter calls, together;
- :data:`MAX_RANGE` items in one ``range()``;
- :data:`MAX_BUILT` characters (or list items) made by ``*``, ``+``, ``~``, ``%`` and growing filters
  (``center``, ``indent``, ``replace``, ``join``, ``forceescape``…), counted before the big ones are made;
- :data:`MAX_OUTPUT` characters of output (template text and ``{{ … }}`` values, images included);
- :data:`MAX_SECONDS` of rendering time;
- numbers up to :data:`MAX_INT_BITS` bits, widths in ``%``/``format`` specs up to :data:`MAX_WIDTH`;
- methods of strings, numbers, lists and dicts from an allow-list only (no ``str.center(10**9)``,
  ``int.to_bytes``); no ``lipsum()``, no ``urlize`` filter, the sandbox is immutable (no ``list.append``).

Past a limit rendering stops with :class:`TemplateFailed` (a :class:`~hub.errors.ValidationError` on
field ``html``) naming the limit and the template line. Every other error a template raises (``{{ 1/0 }}``,
an unsafe attribute) becomes a :class:`TemplateFailed` too. The limits are documented in README.md
("PDF certificate").

How: the template's syntax tree is rewritten before it is compiled (loop iterables wrapped in a counting
iterator, ``~`` results measured, template text charged to the output), ``*``, ``**``, ``+`` and ``%`` are
intercepted operators (which also stops Jinja from folding ``9**9**9`` while compiling), every filter is
wrapped, and ``finalize`` measures each printed value. The running totals live in a context variable,
so one environment serves concurrent renders.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import functools
import re
import string
import time
from dataclasses import dataclass, field

import jinja2
from jinja2 import nodes
from jinja2.filters import FILTERS
from jinja2.runtime import LoopContext
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError
from jinja2.utils import _PassArg
from jinja2.visitor import NodeTransformer

from hub.errors import ValidationError
from hub.i18n import english, number
from hub.i18n import lazy as _l

MAX_STEPS = 10_000
MAX_RANGE = 10_000
MAX_BUILT = 20_000_000
MAX_OUTPUT = 20_000_000
MAX_SECONDS = 2.0
MAX_INT_BITS = 4096
MAX_WIDTH = 1000
MAX_STRFTIME = 200

TEMPLATE_NAME = "<template>"  # what Jinja calls a template made from a string (in tracebacks)


class LimitExceeded(Exception):
    """Raised while rendering when the template passes a limit; ``message`` is a lazy text."""

    def __init__(self, message):
        super().__init__(english(message))
        self.message = message


class TemplateFailed(ValidationError):
    """An issuer's certificate template cannot be rendered: a syntax error, an error while filling it
    in, or a limit; ``line`` is the template line (None when unknown). Field ``html``."""

    def __init__(self, problem, line: int | None = None):
        if line is None:
            detail = _l("template error: %(error)s", error=problem)
        else:
            detail = _l("template error on line %(line)s: %(error)s", line=line, error=problem)
        super().__init__(detail, field="html")
        self.line = line
        self.problem = problem


@dataclass
class Budget:
    """What one render has used so far."""

    deadline: float = field(default_factory=lambda: time.monotonic() + MAX_SECONDS)
    steps: int = 0
    built: int = 0
    output: int = 0


_budget: contextvars.ContextVar[Budget | None] = contextvars.ContextVar("certificate_template_budget", default=None)


def _current() -> Budget:
    # Outside render() (Jinja folding constants while compiling) each operation gets a fresh budget, so
    # the one-operation limits still hold.
    return _budget.get() or Budget()


def _check_time(b: Budget) -> None:
    if time.monotonic() > b.deadline:
        raise LimitExceeded(
            _l("the template takes longer than %(seconds)s seconds to fill in", seconds=number(MAX_SECONDS))
        )


def step() -> None:
    """Count one loop iteration or call against :data:`MAX_STEPS` (and check the time)."""
    b = _current()
    b.steps += 1
    if b.steps > MAX_STEPS:
        raise LimitExceeded(_l("the template repeats more than %(limit)s loop steps or calls", limit=number(MAX_STEPS)))
    _check_time(b)


def charge(size: int) -> None:
    """Count ``size`` characters (or items) about to be made against :data:`MAX_BUILT`."""
    if size <= 0:
        return
    b = _current()
    b.built += size
    if b.built > MAX_BUILT:
        raise LimitExceeded(_l("the template builds more than %(limit)s characters of text", limit=number(MAX_BUILT)))
    _check_time(b)


def _charge_output(size: int) -> None:
    b = _current()
    b.output += size
    if b.output > MAX_OUTPUT:
        raise LimitExceeded(_l("the template writes more than %(limit)s characters", limit=number(MAX_OUTPUT)))


def _size(value) -> int:
    return len(value) if isinstance(value, (str, bytes, list, tuple, dict)) else 0


def _check_width(width) -> None:
    if width > MAX_WIDTH:
        raise LimitExceeded(
            _l("a width or precision above %(limit)s is not allowed in a certificate template", limit=number(MAX_WIDTH))
        )


_PRINTF = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?")


def check_printf(text: str) -> None:
    """Refuse ``%`` conversions with a ``*`` or a width/precision over :data:`MAX_WIDTH` in ``text``."""
    if "%" not in text:
        return
    for match in _PRINTF.finditer(text):
        for part in match.groups():
            if part == "*":
                _check_width(MAX_WIDTH + 1)
            elif part:
                _check_width(int(part))


def _check_format_spec(text: str) -> None:
    """The same for ``str.format`` fields (``{:>999999}``, nested ``{:{w}}``)."""
    for _literal, _name, spec, _conv in string.Formatter().parse(text):
        if spec:
            if "{" in spec:
                _check_width(MAX_WIDTH + 1)
            for digits in re.findall(r"\d+", spec):
                _check_width(int(digits))


def _not_allowed(what: str):
    return LimitExceeded(_l("%(name)s is not allowed in a certificate template", name=what))


def _int(value, default: int = 0) -> int:
    return value if isinstance(value, int) else default


# ---- filters ------------------------------------------------------------------------------------------


def _arg(args, kwargs, index: int, name: str, default=None):
    if len(args) > index:
        return args[index]
    return kwargs.get(name, default)


def _before_filter(name: str, args: tuple, kwargs: dict) -> tuple:
    """Checks before a filter runs (``args[0]`` is the filtered value); returns the args to call with."""
    value = args[0] if args else None
    if name == "center":
        charge(_int(_arg(args, kwargs, 1, "width", 80)) - _size(value))
    elif name == "indent":
        width = _arg(args, kwargs, 1, "width", 4)
        per_line = width if isinstance(width, int) else len(str(width))
        charge((str(value).count("\n") + 1) * per_line)
    elif name == "wordwrap":
        width = max(_int(_arg(args, kwargs, 1, "width", 79), 79), 1)
        wrap = _arg(args, kwargs, 3, "wrapstring") or "\n"
        charge((_size(value) // width + 1) * len(str(wrap)))
    elif name == "format":
        check_printf(str(value))
    elif name == "replace":
        text, old, new = str(value), str(_arg(args, kwargs, 1, "old", "")), str(_arg(args, kwargs, 2, "new", ""))
        times = text.count(old) if old else len(text) + 1
        count = _arg(args, kwargs, 3, "count")
        if isinstance(count, int) and count >= 0:
            times = min(times, count)
        charge(times * (len(new) - len(old)))
    elif name == "join":
        items = list(value) if value is not None and not isinstance(value, str) else value
        if items is not None and not isinstance(items, str):
            sep = _arg(args, kwargs, 1, "d", "")
            charge(sum(len(str(i)) for i in items) + len(str(sep)) * max(len(items) - 1, 0))
            args = (items, *args[1:])
    elif name in ("batch", "slice"):
        count = _arg(args, kwargs, 1, "linecount" if name == "batch" else "slices", 0)
        if _int(count) > MAX_RANGE:
            raise _not_allowed(f"{name}({count})")
    elif name == "sum":
        start = _arg(args, kwargs, 2, "start", 0)
        if not isinstance(start, (int, float)):
            raise _not_allowed("sum(start=…)")
    elif name == "tojson":
        indent = _arg(args, kwargs, 1, "indent")
        if indent is not None and (_int(indent) > 16 or (isinstance(indent, str) and len(indent) > 16)):
            raise _not_allowed("tojson(indent=…)")
    return args


def _guarded_filter(name: str, func):
    offset = 1 if _PassArg.from_obj(func) is not None else 0

    @functools.wraps(func)  # keeps jinja_pass_arg
    def guarded(*args, **kwargs):
        step()
        head, rest = args[:offset], args[offset:]
        rest = _before_filter(name, rest, kwargs)
        result = func(*head, *rest, **kwargs)
        charge(_size(result) - _size(rest[0] if rest else None))
        return result

    return guarded


LEFT_OUT_FILTERS = ("urlize",)  # per-link attributes make it a multiplier; links are stripped anyway
FILTERS_GUARDED = {name: _guarded_filter(name, f) for name, f in FILTERS.items() if name not in LEFT_OUT_FILTERS}


# ---- methods of built-in values -----------------------------------------------------------------------

_STR_METHODS = frozenset(
    "capitalize casefold count endswith find index isalnum isalpha isascii isdecimal isdigit isidentifier "
    "islower isnumeric isprintable isspace istitle isupper lower lstrip partition removeprefix removesuffix "
    "rfind rindex rpartition rsplit rstrip split splitlines startswith strip swapcase title upper "
    "striptags unescape".split()
)
SAFE_METHODS: dict[type, frozenset[str]] = {
    str: _STR_METHODS,
    bytes: frozenset(),
    int: frozenset({"is_integer"}),
    float: frozenset({"is_integer"}),
    bool: frozenset(),
    list: frozenset({"count", "index"}),
    tuple: frozenset({"count", "index"}),
    dict: frozenset({"get", "items", "keys", "values"}),
    set: frozenset(),
    frozenset: frozenset(),
}


def _basic_type(obj) -> type | None:
    for kind in SAFE_METHODS:
        if isinstance(obj, kind) and not isinstance(obj, (dt.date, dt.time)):
            return kind
    return None


# ---- the syntax tree ----------------------------------------------------------------------------------


def _guard_call(name: str, *args: nodes.Expr, lineno: int) -> nodes.Call:
    return nodes.Call(nodes.EnvironmentAttribute(name, lineno=lineno), list(args), [], None, None, lineno=lineno)


class _Instrument(NodeTransformer):
    """Wraps loop iterables, ``~`` results and template text in the environment's guards."""

    def visit_For(self, node: nodes.For) -> nodes.Node:
        self.generic_visit(node)
        node.iter = _guard_call("guard_iter", node.iter, lineno=node.lineno)
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        self.generic_visit(node)
        return _guard_call("guard_built", node, lineno=node.lineno)

    def visit_Output(self, node: nodes.Output) -> nodes.Node | list[nodes.Node]:
        self.generic_visit(node)
        text = sum(len(n.data) for n in node.nodes if isinstance(n, nodes.TemplateData))
        if not text:
            return node
        charge_text = nodes.ExprStmt(
            _guard_call("guard_text", nodes.Const(text, lineno=node.lineno), lineno=node.lineno), lineno=node.lineno
        )
        return [charge_text, node]


def _guard_iter(iterable):
    for item in iterable:
        step()
        yield item


def _guard_built(value):
    charge(_size(value))
    return value


def _guard_text(size: int) -> None:
    _charge_output(size)


def _finalize(value):
    _charge_output(len(value) if isinstance(value, str) else len(str(value)))
    return value


_GUARDS = frozenset({_guard_iter, _guard_built, _guard_text})


def _safe_range(*args: int) -> range:
    rng = range(*args)
    if len(rng) > MAX_RANGE:
        raise LimitExceeded(_l("range() may give at most %(limit)s numbers", limit=number(MAX_RANGE)))
    return rng


class CertificateSandbox(ImmutableSandboxedEnvironment):
    """Jinja's immutable sandbox with the work limits of this module (see its docstring)."""

    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def __init__(self, **kwargs):
        super().__init__(finalize=_finalize, **kwargs)
        self.filters = dict(FILTERS_GUARDED)
        self.globals.pop("lipsum", None)
        self.globals["range"] = _safe_range
        self.guard_iter, self.guard_built, self.guard_text = _guard_iter, _guard_built, _guard_text

    def _parse(self, source, name, filename):
        return _Instrument().visit(super()._parse(source, name, filename))

    def call_binop(self, context, operator_: str, left, right):
        """``*``, ``**``, ``+`` and ``%`` with their results' sizes checked first."""
        if operator_ == "*":
            for seq, times in ((left, right), (right, left)):
                if isinstance(times, int) and _size(seq):
                    charge(_size(seq) * times)
            both_int = isinstance(left, int) and isinstance(right, int)
            if both_int and left.bit_length() + right.bit_length() > MAX_INT_BITS:
                raise self._too_big()
        elif operator_ == "**":
            if isinstance(left, int) and isinstance(right, int) and right > 0:
                if max(abs(left).bit_length(), 1) * right > MAX_INT_BITS and abs(left) > 1:
                    raise self._too_big()
        elif operator_ == "+":
            if _size(left) or _size(right):
                charge(_size(left) + _size(right))
        elif operator_ == "%" and isinstance(left, str):
            check_printf(left)
        result = super().call_binop(context, operator_, left, right)
        if operator_ == "%" and isinstance(result, str):
            charge(len(result) - len(left))
        return result

    @staticmethod
    def _too_big() -> LimitExceeded:
        return LimitExceeded(
            _l("numbers above %(limit)s bits are not allowed in a certificate template", limit=number(MAX_INT_BITS))
        )

    def is_safe_attribute(self, obj, attr: str, value) -> bool:
        """Jinja's rules, and only allow-listed methods of strings, numbers, lists and dicts."""
        if not super().is_safe_attribute(obj, attr, value):
            return False
        kind = _basic_type(obj)
        if kind is not None and callable(value):
            return attr in SAFE_METHODS[kind]
        return True

    def wrap_str_format(self, value):
        """``str.format``/``format_map`` with field widths checked first."""
        wrapped = super().wrap_str_format(value)
        if wrapped is None:
            return None
        text = value.__self__

        @functools.wraps(wrapped)
        def checked(*args, **kwargs):
            _check_format_spec(text)
            result = wrapped(*args, **kwargs)
            charge(len(result) - len(text))
            return result

        return checked

    def call(__self, __context, __obj, *args, **kwargs):  # noqa: N805 - Jinja's signature
        """A call from the template: counted as a step; ``loop(…)`` of a recursive loop counts its
        items too; ``strftime`` formats are at most :data:`MAX_STRFTIME` characters."""
        if any(__obj is guard for guard in _GUARDS):
            return __context.call(__obj, *args, **kwargs)
        step()
        if isinstance(__obj, LoopContext) and args:
            args = (_guard_iter(args[0]), *args[1:])
        if getattr(__obj, "__name__", None) == "strftime" and isinstance(getattr(__obj, "__self__", None), dt.date):
            if args and len(str(args[0])) > MAX_STRFTIME:
                raise _not_allowed(f"strftime() > {MAX_STRFTIME}")
        return super().call(__context, __obj, *args, **kwargs)


# ---- rendering ----------------------------------------------------------------------------------------


def _template_line(exc: BaseException) -> int | None:
    """The template line an exception was raised on (Jinja rewrites tracebacks to template lines)."""
    if isinstance(exc, jinja2.TemplateSyntaxError):
        return exc.lineno
    line, tb = None, exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == TEMPLATE_NAME:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def _problem(exc: BaseException):
    if isinstance(exc, LimitExceeded):
        return exc.message
    if isinstance(exc, SecurityError):
        return _l("the sandbox does not allow this: %(detail)s", detail=str(exc))
    if isinstance(exc, jinja2.TemplateError):
        return exc.message or type(exc).__name__
    if isinstance(exc, RecursionError):
        return _l("too deep recursion (a macro calling itself?)")
    text = str(exc)
    return f"{text} ({type(exc).__name__})" if text else type(exc).__name__


def failure(exc: BaseException) -> TemplateFailed:
    """``exc`` (raised by compiling or rendering an issuer's template) as a :class:`TemplateFailed`."""
    if isinstance(exc, TemplateFailed):
        return exc
    return TemplateFailed(_problem(exc), _template_line(exc))


_env = CertificateSandbox(autoescape=True, undefined=jinja2.ChainableUndefined)


@functools.lru_cache(maxsize=64)
def _compiled(source: str) -> jinja2.Template:
    return _env.from_string(source)


def compile_template(source: str) -> jinja2.Template:
    """The compiled template (kept for the last 64 sources).

    Raises:
        TemplateFailed: a syntax error (unknown filter, unclosed tag…), with its line.
    """
    try:
        return _compiled(source)
    except jinja2.TemplateError as exc:
        raise failure(exc) from None


def render(source: str, variables: dict) -> str:
    """Fill in an issuer's template within the limits (a fresh :class:`Budget`).

    Raises:
        TemplateFailed: the template does not compile, raises an error, or passes a limit.
    """
    template = compile_template(source)
    token = _budget.set(Budget())
    try:
        return template.render(variables)
    except Exception as exc:  # whatever the template raised, the caller gets one kind of error
        raise failure(exc) from None
    finally:
        _budget.reset(token)
