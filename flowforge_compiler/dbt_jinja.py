"""The Jinja names dbt gives models and macros, as far as a compile without a warehouse can.

Chosen by reading dbt-labs' jaffle_shop and jaffle-shop and the projects Cosmos tests with:
`log`, `return`, `adapter.dispatch` (`<type>__name`, then `default__name`), `adapter.quote`,
`exceptions.raise_compiler_error`/`warn`, `execute`, `project_name`, `modules` (members of datetime, re, itertools),
`fromjson`/`tojson`/`fromyaml`/`toyaml`, `zip`, `set`, `local_md5`, and the cross-database
macros under `dbt.` (`date_trunc`, `dateadd`, `datediff`, `type_*`, `safe_cast`, `concat`,
`hash`, `split_part`, `except`, ...), built with sqlglot and written in the dialect the
project's SQL is read in; `should_store_failures()` is false (a check counts failing rows).
Packages installed in the project (`dbt deps`) are namespaces: `dbt_utils.x`, with
`adapter.dispatch(name, 'dbt_utils')` following dbt_project.yml's `dispatch:` search order.
`statement`/`load_result` and `run_query` answer a query of constants (see
`compile_time_queries`); a query that reads a table needs the warehouse and stops the compile.
dbt names that need the manifest (`graph`, `model`, `selected_resources`) or a run (`run_started_at`,
`invocation_id`) stop the compile with an error that names them.
"""

from __future__ import annotations

import datetime
import hashlib
import itertools
import json
import logging
import re
from collections.abc import Callable, Mapping
from typing import Any

import jinja2
import jinja2.ext
import jinja2.nodes
import jinja2.parser
import yaml
from sqlglot import exp

from flowforge_compiler.compile_time_queries import CompileTimeQueries
from flowforge_compiler.dsl import DslError, MacroNamespace, RelationName, current_context, quote_identifier
from flowforge_compiler.jinja_sandbox import SafeModule, TemplateNamespace

log = logging.getLogger("flowforge")

# dbt names FlowForge does not have, and why; each stops the compile naming itself.
UNSUPPORTED = {
    "graph": "FlowForge has no dbt manifest",
    "model": "FlowForge has no dbt manifest node for the model",
    "selected_resources": "FlowForge has no dbt manifest",
    "run_started_at": "a value that changes every run would change every model's fingerprint",
    "invocation_id": "a value that changes every run would change every model's fingerprint",
    "api": "FlowForge has no dbt relation API",
    "builtins": "FlowForge has no dbt builtins namespace",
    "flags": "FlowForge has no dbt flags",
    "dbt_version": "FlowForge is not dbt",
}


class TestBlocks(jinja2.ext.Extension):
    """dbt's `{% test name(model, column_name) %} ... {% endtest %}`: a macro named `test_name`."""

    tags = {"test"}

    def parse(self, parser: jinja2.parser.Parser) -> jinja2.nodes.Node:
        node = jinja2.nodes.Macro(lineno=next(parser.stream).lineno)
        node.name = "test_" + parser.parse_assign_target(name_only=True).name
        parser.parse_signature(node)
        node.body = parser.parse_statements(("name:endtest",), drop_needle=True)
        return node


class MacroReturn(Exception):  # noqa: N818 - control flow, as dbt's own
    """dbt's `return(value)`: ends the macro, which returns `value`."""

    def __init__(self, value: Any):
        super().__init__("return() outside a macro")
        self.value = value


def _return(value: Any) -> None:
    raise MacroReturn(value)


def returning(macro: Callable[..., Any]) -> Callable[..., Any]:
    """A macro whose `return(...)` gives its value, as in dbt."""

    def call(*args: Any, **kwargs: Any) -> Any:
        try:
            return macro(*args, **kwargs)
        except MacroReturn as done:
            return done.value

    call.__name__ = getattr(macro, "name", "macro")
    return call


class Unsupported:
    """A dbt name FlowForge does not have: using it in any way is an error naming it."""

    def __init__(self, name: str, why: str):
        self._name, self._why = name, why

    def _fail(self, *_: Any, **__: Any) -> Any:
        raise DslError(f"{self._name} is a dbt feature FlowForge does not have: {self._why}", hint="rewrite this part of the SQL without it")

    __call__ = __str__ = __iter__ = __bool__ = _fail

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        self._fail()


# dbt's `modules`: what a template may use of each module (dbt documents datetime, re, itertools
# and pytz), never the module itself, whose `sys` would hand over the interpreter.
SAFE_MODULES = {
    "datetime": SafeModule(datetime, ["date", "datetime", "time", "timedelta", "timezone", "tzinfo", "MINYEAR", "MAXYEAR"]),
    "re": SafeModule(re, [
        "compile", "search", "match", "fullmatch", "split", "findall", "finditer", "sub", "subn", "escape",
        "IGNORECASE", "I", "MULTILINE", "M", "DOTALL", "S", "VERBOSE", "X", "ASCII", "A", "error",
    ]),
    "itertools": SafeModule(itertools, [
        "accumulate", "chain", "combinations", "combinations_with_replacement", "compress", "count", "cycle",
        "dropwhile", "filterfalse", "groupby", "islice", "pairwise", "permutations", "product", "repeat",
        "starmap", "takewhile", "tee", "zip_longest",
    ]),
}


class _Namespace(TemplateNamespace):
    """An object whose attributes are functions; an unknown one is an error naming it."""

    def __init__(self, label: str, functions: Mapping[str, Any], missing_hint: str):
        self._label, self._functions, self._hint = label, dict(functions), missing_hint

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return self.member(name)

    def member(self, name: str) -> Any:
        if name not in self._functions:
            raise DslError(f"{self._label}.{name} is a dbt macro FlowForge does not have", hint=self._hint)
        return self._functions[name]


def _raise_compiler_error(message: str) -> None:
    raise DslError(str(message))


def _warn(message: str) -> str:
    log.warning("%s", message)
    return ""


def _log(message: Any, info: bool = False) -> str:
    log.log(logging.INFO if info else logging.DEBUG, "%s", message)
    return ""


def dbt_globals(
    env: jinja2.Environment,
    *,
    adapter_types: tuple[str, ...],
    dialect: str,
    project: str,
    engine_macros: Mapping[str, Callable[..., str]],
    dispatch: Mapping[str, list[str]] | None = None,
) -> dict[str, Any]:
    """The globals a dbt project's templates see, beside FlowForge's own DSL. `adapter_types`
    are the prefixes `adapter.dispatch` tries before `default__` (the engine's dbt types);
    `dispatch` is dbt_project.yml's search order per macro namespace."""
    order = dict(dispatch or {})

    def own_macros(package: str) -> Mapping[str, Any]:
        if package == project:
            return env.globals
        found = env.globals.get(package)
        if not isinstance(found, MacroNamespace):
            raise DslError(f"adapter.dispatch searches the package {package!r}, which is not installed", hint="run `dbt deps`, or fix dispatch: in dbt_project.yml")
        return found.macros

    def find(name: str, macro_namespace: str | None = None) -> Callable[..., Any]:
        namespace = macro_namespace or project
        if namespace == "dbt" and "dbt" not in order and name in cross_database:
            return cross_database[name]
        searched = order.get(namespace, [namespace] if macro_namespace else [project, "dbt"])
        tried: list[str] = []
        for package in searched:
            if package == "dbt":
                if name in cross_database:
                    return cross_database[name]
                continue
            macros = own_macros(package)
            for prefix in (*adapter_types, "default"):
                candidate = macros.get(f"{prefix}__{name}")
                if callable(candidate):
                    return candidate
                tried.append(f"{package}.{prefix}__{name}")
        raise DslError(f"adapter.dispatch({name!r}) found no macro (tried {', '.join(tried)})", hint=f"define {{% macro default__{name}(...) %}} in macros/")

    cross_database = cross_database_macros(dialect, engine_macros)
    adapter = _Namespace(
        "adapter",
        # quote() always quotes, in the target's form (dbt's adapters: "name"; Spark and BigQuery: `name`)
        {"dispatch": find, "quote": lambda name: exp.to_identifier(str(name), quoted=True).sql(dialect), "get_columns_in_relation": _columns_in_relation},
        "FlowForge's adapter has dispatch(), quote() and get_columns_in_relation(); other adapter methods need the warehouse while compiling",
    )
    queries = CompileTimeQueries(dialect)
    found: dict[str, Any] = {name: Unsupported(name, why) for name, why in UNSUPPORTED.items()}
    found.update(statement=queries.statement, load_result=queries.load_result, run_query=queries.run)
    found.update(
        log=_log,
        print=_log,
        exceptions=_Namespace("exceptions", {"raise_compiler_error": _raise_compiler_error, "warn": _warn}, "use raise_compiler_error or warn"),
        adapter=adapter,
        execute=True,  # FlowForge renders once, as dbt's execution phase does; queries that needs stop above
        project_name=project,
        modules=_Namespace("modules", SAFE_MODULES, "modules has " + ", ".join(SAFE_MODULES)),
        fromjson=lambda text, default=None: _or_default(json.loads, text, default),
        tojson=lambda value, sort_keys=False: json.dumps(value, sort_keys=sort_keys),
        fromyaml=lambda text, default=None: _or_default(yaml.safe_load, text, default),
        toyaml=lambda value, sort_keys=False: yaml.safe_dump(value, sort_keys=sort_keys),
        zip=zip,
        set=set,
        local_md5=lambda text: hashlib.md5(str(text).encode(), usedforsecurity=False).hexdigest(),
        should_store_failures=lambda: False,  # a check counts the failing rows; they are not stored
        dbt=_Namespace("dbt", cross_database, "FlowForge has dbt's cross-database macros " + ", ".join(sorted(cross_database))),
    )
    found["return"] = _return
    return found


class DbtColumn:
    """A column as dbt's adapter gives it; FlowForge knows its name while compiling, not its type."""

    def __init__(self, name: str):
        self.name = self.column = name

    @property
    def quoted(self) -> str:
        return quote_identifier(self.name)

    @property
    def data_type(self) -> str:
        raise DslError(f"the type of the column {self.name!r} is known only to the warehouse, after a build", hint="cast the columns in the SQL instead")

    dtype = data_type

    def __str__(self) -> str:
        return self.name


def _columns_in_relation(relation: Any) -> list[DbtColumn]:
    """dbt's adapter.get_columns_in_relation, from what the compile knows (`compile_columns`)."""
    ctx = current_context()
    if not isinstance(relation, RelationName) or ctx.columns_of is None:
        raise DslError("adapter.get_columns_in_relation needs a relation from ref() or source()")
    return [DbtColumn(name) for name in ctx.columns_of(relation)]


def _or_default(parse: Callable[[str], Any], text: str, default: Any) -> Any:
    try:
        return parse(text)
    except (ValueError, yaml.YAMLError):
        return default


def cross_database_macros(dialect: str, engine_macros: Mapping[str, Callable[..., str]]) -> dict[str, Callable[..., str]]:
    """dbt's cross-database macros: each argument is SQL text (as dbt passes it), parsed and
    written back with sqlglot in `dialect`; the engine's own versions (`EngineSpec.dbt_macros`,
    where sqlglot's writing differs from dbt's meaning) replace them."""

    def sql(text: Any) -> exp.Expr:
        return exp.maybe_parse(str(text), dialect=dialect)

    def typed(name: str) -> Callable[[], str]:
        return lambda: exp.DataType.build(name).sql(dialect)

    def render(node: exp.Expr) -> str:
        return node.sql(dialect)

    def set_operator(build: Callable[..., exp.Expr]) -> Callable[[], str]:
        # the keyword the dialect writes between two queries (BigQuery: EXCEPT DISTINCT)
        one = exp.select("1")
        written = render(build(one, one.copy()))
        return lambda: written[len(one.sql(dialect)) : -len(one.sql(dialect))].strip().lower()

    def datediff(first_date: Any, second_date: Any, datepart: Any) -> str:
        part = str(datepart).strip("'\"").upper()
        return render(exp.DateDiff(this=sql(second_date), expression=sql(first_date), unit=exp.var(part)))

    macros: dict[str, Callable[..., str]] = {
        "date_trunc": lambda datepart, date: render(exp.DateTrunc(this=sql(date), unit=exp.Literal.string(str(datepart).strip("'\"").upper()))),
        "dateadd": lambda datepart, interval, from_date_or_timestamp: render(
            exp.DateAdd(this=sql(from_date_or_timestamp), expression=sql(interval), unit=exp.var(str(datepart).strip("'\"").upper()))
        ),
        "datediff": datediff,
        "type_string": typed("text"),
        "type_timestamp": typed("timestamp"),
        "type_int": typed("int"),
        "type_bigint": typed("bigint"),
        "type_float": typed("float"),
        "type_numeric": typed("numeric(28, 6)"),
        "type_boolean": typed("boolean"),
        "current_timestamp": lambda: render(exp.CurrentTimestamp()),
        "concat": lambda fields: render(exp.Concat(expressions=[sql(f) for f in fields])),
        "safe_cast": lambda field, type: render(exp.TryCast(this=sql(field), to=exp.DataType.build(str(type), dialect=dialect))),
        "cast": lambda field, type: render(exp.cast(sql(field), exp.DataType.build(str(type), dialect=dialect))),
        "hash": lambda field: render(exp.MD5(this=exp.cast(sql(field), "text"))),
        "length": lambda expression: render(exp.Length(this=sql(expression))),
        "position": lambda substring_text, string_text: render(exp.StrPosition(this=sql(string_text), substr=sql(substring_text))),
        "right": lambda string_text, length_expression: render(exp.Right(this=sql(string_text), expression=sql(length_expression))),
        "any_value": lambda expression: render(exp.AnyValue(this=sql(expression))),
        "bool_or": lambda expression: render(exp.LogicalOr(this=sql(expression))),
        "string_literal": lambda value: render(exp.Literal.string(str(value))),
        "escape_single_quotes": lambda expression: str(expression).replace("'", "''"),
        "split_part": lambda string_text, delimiter_text, part_number: render(
            exp.SplitPart(this=sql(string_text), delimiter=sql(delimiter_text), part_index=sql(part_number))
        ),
        "replace": lambda field, old_chars, new_chars: render(exp.func("replace", sql(field), sql(old_chars), sql(new_chars))),
        "cast_bool_to_text": lambda field: render(exp.cast(sql(field), "text")),
        "except": set_operator(exp.except_),
        "intersect": set_operator(exp.intersect),
    }
    return macros | dict(engine_macros)
