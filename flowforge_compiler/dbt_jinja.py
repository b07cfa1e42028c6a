"""The Jinja names dbt gives models and macros, as far as a compile without a warehouse can.

Chosen by reading dbt-labs' jaffle_shop and jaffle-shop, the projects Cosmos tests with and the
macros of dbt's own library (`dbt_library`, whose macros are dbt's: `type_*`, `datediff`, ...):
`log`, `return`, `adapter.dispatch` (dbt's search order; `<type>__name`, then `default__name`),
`adapter.quote`, `adapter.type()`, `adapter.behavior`, `api.Column` (type names as the engine's
dbt adapter writes them, `EngineSpec.dbt_column`), `api.Relation.create`,
`exceptions.raise_compiler_error`/`warn`, `execute`, `project_name`, `modules` (members of datetime, re, itertools),
`fromjson`/`tojson`/`fromyaml`/`toyaml`, `zip`, `set`, `local_md5`;
`should_store_failures()` is false (a check counts failing rows).
Packages installed in the project (`dbt deps`) are namespaces: `dbt_utils.x`, with
`adapter.dispatch(name, 'dbt_utils')` following dbt_project.yml's `dispatch:` search order.
`statement`/`load_result` and `run_query` answer a query of constants while compiling (see
`compile_time_queries`); a model whose query reads a table, or that reads `run_started_at`,
`invocation_id`, `adapter.get_relation` or a column's type, renders at run time with the
warehouse (`RenderContext.warehouse`, `run_render`). dbt names that need the manifest (`graph`,
`model`, `selected_resources`) stop the compile with an error that names them.
"""

from __future__ import annotations

import datetime
import hashlib
import itertools
import json
import logging
import re
import types
import uuid
from collections.abc import Callable, Mapping
from typing import Any

import jinja2
import jinja2.ext
import jinja2.nodes
import jinja2.parser
import yaml
from sqlglot import exp

from flowforge_compiler.compile_time_queries import CompileTimeQueries, Table
from flowforge_compiler.dbt_library import INSTALL_HINT, macro_library
from flowforge_compiler.dsl import DslError, MacroNamespace, RelationName, current_context, quote_parts
from flowforge_compiler.engine_sdk import DEFAULT_DIALECT, DbtColumnRules
from flowforge_compiler.jinja_sandbox import MacroReturn, SafeModule, TemplateNamespace
from flowforge_compiler.profiles import Profile

log = logging.getLogger("flowforge")

# dbt names FlowForge does not have, and why; each stops the compile naming itself.
UNSUPPORTED = {
    "graph": "FlowForge has no dbt manifest",
    "model": "FlowForge has no dbt manifest node for the model",
    "selected_resources": "FlowForge has no dbt manifest",
    "builtins": "FlowForge has no dbt builtins namespace",
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


class MaterializationBlocks(jinja2.ext.Extension):
    """dbt's `{% materialization name, adapter %} ... {% endmaterialization %}`, which dbt's
    library files hold beside macros: read and dropped (FlowForge builds each materialization
    itself; the macros around them are what templates call)."""

    tags = {"materialization"}

    def parse(self, parser: jinja2.parser.Parser) -> list[jinja2.nodes.Node]:
        next(parser.stream)
        while parser.stream.current.type != "block_end":
            next(parser.stream)
        parser.parse_statements(("name:endmaterialization",), drop_needle=True)
        return []


def _return(value: Any) -> None:
    raise MacroReturn(value)


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


def _modules() -> dict[str, SafeModule]:
    """dbt's `modules`, with `pytz` where it is installed (dbt documents datetime, pytz, re, itertools)."""
    try:
        import pytz
    except ImportError:
        return SAFE_MODULES
    return {**SAFE_MODULES, "pytz": SafeModule(pytz, ["timezone", "utc", "UTC", "all_timezones", "common_timezones", "country_timezones", "UnknownTimeZoneError"])}


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
    column_rules: DbtColumnRules,
    dispatch: Mapping[str, list[str]] | None = None,
    run: tuple[datetime.datetime, str] | None = None,
) -> dict[str, Any]:
    """The globals a dbt project's templates see, beside FlowForge's own DSL and dbt's macro
    library (`env.fallback`, or None when it is not installed). `adapter_types` are the
    prefixes `adapter.dispatch` tries before `default__` (the engine's dbt types); `dispatch`
    is dbt_project.yml's search order per macro namespace; `run` is the run's start and id when
    rendering at run time."""
    order = dict(dispatch or {})
    library: Mapping[str, Any] | None = getattr(env, "fallback", None)

    def package_macros(package: str | None) -> Mapping[str, Any]:
        if package is None or package == project:
            return env.globals
        if package == "dbt":
            if library is None:
                raise DslError("dbt's macro library is not installed", hint=INSTALL_HINT)
            return library
        found = env.globals.get(package)
        if not isinstance(found, MacroNamespace):
            raise DslError(f"adapter.dispatch searches the package {package!r}, which is not installed", hint="run `dbt deps`, or fix dispatch: in dbt_project.yml")
        return found.macros

    def find(macro_name: str, macro_namespace: str | None = None) -> Callable[..., Any]:
        """dbt's adapter.dispatch: the search order dbt_project.yml's `dispatch:` gives the
        namespace, else the project then the namespace (an installed package, or `dbt`), else
        the names a template sees; in each, `<adapter type>__name` then `default__name`."""
        if "." in str(macro_name):
            raise DslError(f"adapter.dispatch({macro_name!r}): give the package as macro_namespace", hint="write adapter.dispatch('name', 'package')")
        searched: list[str | None] = [None]
        if macro_namespace is not None:
            installed = macro_namespace == "dbt" or isinstance(env.globals.get(macro_namespace), MacroNamespace)
            if macro_namespace in order:
                searched = list(order[macro_namespace])
            elif installed:
                searched = [project, macro_namespace]
        tried: list[str] = []
        for package in searched:
            macros = package_macros(package)
            for prefix in (*adapter_types, "default"):
                name = f"{prefix}__{macro_name}"
                candidate = macros.get(name)
                if candidate is None and package is None and library is not None:
                    candidate = library.get(name)
                if callable(candidate):
                    return candidate
                tried.append(name if package is None else f"{package}.{name}")
        within = "" if macro_namespace is None else f" within the namespace {macro_namespace!r}"
        missing = searched == [None] and macro_namespace is not None
        raise DslError(
            f"adapter.dispatch({macro_name!r}) found no macro{within} (tried {', '.join(tried)})"
            + (f"; no package {macro_namespace!r} is installed" if missing else ""),
            hint="run `dbt deps`, or fix dispatch: in dbt_project.yml" if missing
            else f"define {{% macro default__{macro_name}(...) %}} in macros/" + ("" if library is not None else f", or {INSTALL_HINT}"),
        )

    adapter = _Namespace(
        "adapter",
        {
            "dispatch": find,
            # quote() always quotes, in the target's form (dbt's adapters: "name"; Spark and BigQuery: `name`)
            "quote": lambda name: exp.to_identifier(str(name), quoted=True).sql(dialect),
            "get_columns_in_relation": lambda relation: _columns_in_relation(relation, column_rules, dialect),
            "get_relation": _get_relation,
            "type": lambda: adapter_types[0] if adapter_types else "default",
            "behavior": _Behavior(),
        },
        "FlowForge's adapter has dispatch(), quote(), type(), behavior, get_relation() and get_columns_in_relation()",
    )
    queries = DbtQueries(dialect)
    modules = _modules()
    found: dict[str, Any] = {name: Unsupported(name, why) for name, why in UNSUPPORTED.items()}
    found.update(statement=queries.statement, load_result=queries.load_result, run_query=queries.run, load_relation=_load_relation)
    # while a model renders as dbt parses it, the compile's own clock and id, as dbt's parse has them
    found.update(run_started_at=AtRunTime("run_started_at", datetime.datetime.now(datetime.UTC)), invocation_id=AtRunTime("invocation_id", str(uuid.uuid4())))
    if run is not None:
        found.update(run_started_at=run[0], invocation_id=run[1])
    found.update(
        log=_log,
        print=_log,
        exceptions=_Namespace("exceptions", {"raise_compiler_error": _raise_compiler_error, "warn": _warn}, "use raise_compiler_error or warn"),
        adapter=adapter,
        api=_Namespace("api", {"Column": ColumnApi(column_rules, dialect), "Relation": _RelationApi()}, "api has Column and Relation"),
        execute=_Execute(),
        # dbt's invocation flags, as a plan compiled to run sees them: `run` (FlowForge renders
        # while compiling what dbt renders during `dbt run`/`build`), nothing empty or forced
        flags=types.SimpleNamespace(WHICH="run", EMPTY=False, FULL_REFRESH=False, STORE_FAILURES=False, FAIL_FAST=False, WARN_ERROR=False),
        project_name=project,
        modules=_Namespace("modules", modules, "modules has " + ", ".join(modules)),
        fromjson=lambda text, default=None: _or_default(json.loads, text, default),
        tojson=lambda value, sort_keys=False: json.dumps(value, sort_keys=sort_keys),
        fromyaml=lambda text, default=None: _or_default(yaml.safe_load, text, default),
        toyaml=lambda value, sort_keys=False: yaml.safe_dump(value, sort_keys=sort_keys),
        zip=zip,
        set=set,
        local_md5=lambda text: hashlib.md5(str(text).encode(), usedforsecurity=False).hexdigest(),
        should_store_failures=lambda: False,  # a check counts the failing rows; they are not stored
    )
    found[project] = MacroNamespace(project, env.globals)  # the project's own macros, as `<project>.macro`
    if library is None:
        found["dbt"] = Unsupported("dbt's macro library (dbt.*)", f"it is not installed; {INSTALL_HINT}")
    found["return"] = _return
    return found


class _Behavior(TemplateNamespace):
    """dbt's `adapter.behavior.<flag>`: every behaviour flag at its default, off."""

    class Flag:
        setting = no_warn = False

        def __bool__(self) -> bool:
            return False

    def member(self, name: str) -> Any:
        return self.Flag()


class ColumnApi:
    """dbt's `api.Column`: type names as the adapter's Column class writes them, and columns."""

    def __init__(self, rules: DbtColumnRules, dialect: str):
        self._rules, self._dialect = rules, dialect

    def translate_type(self, dtype: str) -> str:
        return self._rules.type_labels.get(str(dtype).upper(), str(dtype))

    def string_type(self, size: int) -> str:
        return f"character varying({size})"

    def numeric_type(self, dtype: str, precision: Any, scale: Any) -> str:
        if precision is None or scale is None or not self._rules.numeric_with_precision:
            return str(dtype)
        return f"{dtype}({precision},{scale})"

    def create(self, name: str, label_or_dtype: str) -> DbtColumn:
        return DbtColumn(str(name), self.translate_type(label_or_dtype), rules=self._rules, dialect=self._dialect)

    def __call__(self, column: str, dtype: str | None = None, char_size: int | None = None, numeric_precision: Any = None, numeric_scale: Any = None) -> DbtColumn:
        return DbtColumn(str(column), dtype, rules=self._rules, dialect=self._dialect, char_size=char_size, numeric_precision=numeric_precision, numeric_scale=numeric_scale)


class _RelationApi:
    """dbt's `api.Relation.create(database=, schema=, identifier=)`: a relation's quoted name."""

    def create(self, database: str | None = None, schema: str | None = None, identifier: str | None = None, type: str | None = None, **_: Any) -> RelationName:  # noqa: A002 - dbt's name
        parts = tuple(str(part) for part in (database, schema, identifier) if part)
        return RelationName(quote_parts(parts), identifier=str(identifier or ""), schema=str(schema) if schema else None)


class DbtColumn:
    """A column as dbt's adapter gives it. While compiling FlowForge knows a model's column
    names, not their types: asking for the type of such a column is an error naming it."""

    def __init__(
        self, name: str, dtype: str | None = None, *, rules: DbtColumnRules | None = None, dialect: str = DEFAULT_DIALECT,
        char_size: int | None = None, numeric_precision: Any = None, numeric_scale: Any = None,
    ):  # fmt: skip
        self.name = self.column = name
        self._dtype, self._rules, self._dialect = dtype, rules or DbtColumnRules(), dialect
        self.char_size, self.numeric_precision, self.numeric_scale = char_size, numeric_precision, numeric_scale

    @property
    def quoted(self) -> str:
        return exp.to_identifier(self.name, quoted=True).sql(self._dialect)

    @property
    def dtype(self) -> str:
        if self._dtype is None:
            raise DslError(f"the type of the column {self.name!r} is known only to the warehouse, after a build", hint="cast the columns in the SQL instead")
        return self._dtype

    def is_string(self) -> bool:
        return self.dtype.lower() in self._rules.string_types

    def is_integer(self) -> bool:
        return self.dtype.lower() in self._rules.integer_types

    def is_float(self) -> bool:
        return self.dtype.lower() in self._rules.float_types

    def is_numeric(self) -> bool:
        return self.dtype.lower() in self._rules.numeric_types

    def is_number(self) -> bool:
        return self.is_integer() or self.is_numeric() or self.is_float()

    def string_size(self) -> int:
        if not self.is_string():
            raise DslError(f"string_size() of the column {self.name!r}, which is not a string")
        return 256 if self.dtype == "text" or self.char_size is None else int(self.char_size)

    @property
    def data_type(self) -> str:
        api = ColumnApi(self._rules, self._dialect)
        unsized = self.dtype.lower() == "text" or (self.dtype.lower() == "character varying" and self.char_size is None)
        if self._rules.unsized_strings_as_written and unsized:
            return self.dtype
        if self.is_string():
            return api.string_type(self.string_size())
        if self.is_numeric():
            return api.numeric_type(self.dtype, self.numeric_precision, self.numeric_scale)
        return self.dtype

    def __str__(self) -> str:
        return self.name


_NEEDS_THE_WAREHOUSE = "FlowForge renders such a model when it runs, in its task, with the warehouse"


class _Execute:
    """dbt's `execute`: true while a model renders to run, false while it renders only for its
    refs and config (see RenderContext.execute)."""

    def __bool__(self) -> bool:
        return current_context().execute

    def __str__(self) -> str:
        return str(bool(self))


class AtRunTime:
    """A value dbt gives each run (`run_started_at`, `invocation_id`): the compile's own while a
    model renders for its refs and config, as dbt's parse has it; an error naming it while
    compiling the SQL (the node then renders at run time, where the run-time renderer gives the
    run's own value)."""

    def __init__(self, name: str, stand_in: Any):
        self._name, self._stand_in = name, stand_in

    def _value(self) -> Any:
        if not current_context().execute:
            return self._stand_in
        raise DslError(f"{self._name} is the run's own value", hint=_NEEDS_THE_WAREHOUSE)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._value(), name)

    def __str__(self) -> str:
        return str(self._value())


class DbtQueries:
    """dbt's `statement` (a call block), `load_result` and `run_query`: nothing while a model
    renders for its refs (dbt's parse), the warehouse's answer at run time, and while compiling
    the answer to a query of constants (`CompileTimeQueries`); any other needs the warehouse."""

    def __init__(self, dialect: str):
        self._constants = CompileTimeQueries(dialect)
        self._results: dict[str, dict[str, Any]] = {}

    def run(self, sql: str) -> Table | None:
        ctx = current_context()
        if not ctx.execute:
            return None
        if ctx.warehouse is None:
            return self._constants.run(str(sql))
        names, rows = ctx.warehouse.query(str(sql))
        return Table(tuple(names), tuple(tuple(row) for row in rows))

    def statement(
        self, name: str | None = None, fetch_result: bool = False, auto_begin: bool = True, language: str = "sql", caller: Callable[[], str] | None = None
    ) -> str:
        if not current_context().execute:
            return ""
        table = self.run(caller() if caller is not None else "")
        if name is not None and table is not None:
            self._results[name] = {"data": [list(row) for row in table.rows], "table": table, "response": "OK"}
        return ""

    def load_result(self, name: str) -> dict[str, Any] | None:
        return self._results.get(name) if current_context().execute else None


def _get_relation(database: Any = None, schema: Any = None, identifier: Any = None) -> RelationName | None:
    """dbt's adapter.get_relation: the relation when the warehouse has it, else None."""
    ctx = current_context()
    if not ctx.execute:
        return None
    if ctx.warehouse is None:
        raise DslError(f"adapter.get_relation({schema!r}, {identifier!r}) asks the warehouse", hint=_NEEDS_THE_WAREHOUSE)
    name, within = str(identifier), str(schema) if schema else None
    if not ctx.warehouse.relation_exists(within, name):
        return None
    return RelationName(quote_parts((within, name) if within else (name,)), identifier=name, schema=within)


def _load_relation(relation: Any) -> RelationName | None:
    """dbt's load_relation(relation): the relation when the warehouse has it, else None."""
    schema = getattr(relation, "_schema", None) if isinstance(relation, RelationName) else getattr(relation, "schema", None)
    return _get_relation(None, schema, getattr(relation, "identifier", str(relation)))


def _columns_in_relation(relation: Any, rules: DbtColumnRules, dialect: str) -> list[DbtColumn]:
    """dbt's adapter.get_columns_in_relation: names and types from the warehouse at run time;
    while compiling, the names the compile knows (`compile_columns`); none while a model renders
    for its refs."""
    ctx = current_context()
    if not ctx.execute:
        return []
    if not isinstance(relation, RelationName):
        raise DslError("adapter.get_columns_in_relation needs a relation from ref(), source() or adapter.get_relation()")
    if ctx.warehouse is not None:
        schema = relation._schema  # noqa: SLF001 - None for a model: the profile's schema
        return [
            DbtColumn(name, dtype, rules=rules, dialect=dialect, **({"char_size": size, "numeric_precision": precision, "numeric_scale": scale} if rules.sizes else {}))
            for name, dtype, size, precision, scale in ctx.warehouse.column_types(schema, relation.identifier)
        ]
    if ctx.columns_of is None:
        raise DslError("adapter.get_columns_in_relation asks the warehouse", hint=_NEEDS_THE_WAREHOUSE)
    return [DbtColumn(name, rules=rules, dialect=dialect) for name in ctx.columns_of(relation)]


def _or_default(parse: Callable[[str], Any], text: str, default: Any) -> Any:
    try:
        return parse(text)
    except (ValueError, yaml.YAMLError):
        return default


def renderer_settings(
    project: str, dispatch: Mapping[str, list[str]], packages: Mapping[str, list[str]], profile: Profile, run: tuple[datetime.datetime, str] | None = None
) -> dict[str, Any]:
    """A `ModelRenderer`'s settings for a dbt project's templates (each package's macro files
    named in `packages`): dbt's names, its macro library, `return()` and its Jinja extensions;
    `run` as `dbt_globals` takes it."""
    types = profile.spec.dbt_types or (profile.engine,)
    library = macro_library(types)
    return {
        "extra_globals": lambda env: dbt_globals(
            env, adapter_types=types, dialect=profile.dialect, project=project, column_rules=profile.spec.dbt_column, dispatch=dispatch, run=run,
        ),
        "library": None if library is None else ("dbt", library.defined_in),
        "packages": dict(packages),
        "extensions": (TestBlocks, MaterializationBlocks, jinja2.ext.do, jinja2.ext.loopcontrols),  # as dbt's environment
        "undefined": jinja2.Undefined,  # as dbt runs: an unset name is empty text (using one as a macro or object still fails)
        "undefined_hint": "dbt names FlowForge has are listed in the README's 'Coming from dbt'; a package's macros "
        "(dbt_utils.x) need the package installed in the project's dbt_packages/ (run `dbt deps`)"
        + ("" if library is not None else f"; dbt's own macros (type_string, datediff, ...) need its library: {INSTALL_HINT}"),
    }
