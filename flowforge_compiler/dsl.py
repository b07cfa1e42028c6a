"""The Jinja DSL of SQL models: ref, source, var, config, this, env_var, is_incremental, macros.

One environment serves the whole compile; the DSL functions are bound to the model being
rendered through a context variable, so macros defined once can still call `ref()`.
"""

from __future__ import annotations

import ast
import logging
import re
import traceback
from collections.abc import Callable, Mapping, MutableMapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Protocol

import jinja2
import jinja2.ext
import jinja2.runtime
from pydantic import BaseModel, ValidationError

from flowforge_compiler.errors import FlowForgeError, Location, TemplateError
from flowforge_compiler.jinja_sandbox import ProjectSandbox, TemplateNamespace
from flowforge_compiler.project_file import ModelConfig
from flowforge_compiler.sources_file import SourceTable
from flowforge_compiler.yaml_files import describe_validation_error

_MISSING = object()
log = logging.getLogger("flowforge")


def quote_identifier(name: str) -> str:
    """A relation name as SQL: bare when it is a plain identifier, double-quoted otherwise."""
    if name and name.replace("_", "a").isalnum() and name.isascii() and name == name.lower() and not name[0].isdigit():
        return name
    return '"' + name.replace('"', '""') + '"'


def quote_parts(parts: tuple[str, ...]) -> str:
    """A relation's parts (schema, name), each quoted when it needs it."""
    return ".".join(quote_identifier(part) for part in parts)


class Warehouse(Protocol):
    """What a dbt model rendered at run time reads from the warehouse (the runtime's executor
    answers): a query's column names and rows, whether a relation exists, its columns' types."""

    def query(self, sql: str) -> tuple[list[str], list[tuple[Any, ...]]]: ...

    def relation_exists(self, schema: str | None, identifier: str) -> bool: ...

    def column_types(self, schema: str | None, identifier: str) -> list[tuple[str, str, int | None, int | None, int | None]]: ...


@dataclass
class RenderContext:
    """What one model's render reads and declares; filled in while its template runs."""

    display: str
    relation: str
    resolve_ref: Callable[[str], str | None]
    sources: Mapping[tuple[str, str], SourceTable]
    vars: Mapping[str, Any]
    environ: Mapping[str, str]
    incremental: bool = False
    refs: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    source_tables: list[SourceTable] = field(default_factory=list)
    vars_read: dict[str, Any] = field(default_factory=dict)
    env_read: set[str] = field(default_factory=set)  # env_var() names looked up, set or not
    config: dict[str, Any] = field(default_factory=dict)
    package: str | None = None  # the project's name: `ref('package', 'name')` may name it
    config_model: type[BaseModel] = ModelConfig  # what config() accepts (a singular test's differs)
    config_ignored: frozenset[str] = frozenset()  # config() keys accepted and left unread (dbt's), with a warning
    config_kept: frozenset[str] = frozenset()  # config() keys kept apart in `kept`, not the model's config (dbt's `enabled`)
    kept: dict[str, Any] = field(default_factory=dict)
    columns_of: Callable[[RelationName], list[str]] | None = None  # a relation's column names while compiling (dbt's adapter)
    # dbt's `execute`: false when a dbt model is rendered only for its refs, sources and config
    # (dbt's parse), because rendering it needs the warehouse, which renders it at run time
    execute: bool = True
    warehouse: Warehouse | None = None  # at run time: what run_query, adapter.get_relation, ... read
    empty: bool = False  # dbt's --empty: every ref() and source() reads no row


_CURRENT: ContextVar[RenderContext] = ContextVar("flowforge_render_context")


def current_context() -> RenderContext:
    """The render in progress (for the dbt names that read it)."""
    return _CURRENT.get()


class RelationName(str):
    """What ref() and source() give: the relation's quoted name, which is what SQL templates
    write, carrying dbt's Relation attributes that macros read (`identifier`, `schema`, `name`,
    `is_cte`) and what it names (`node`, or the `source` table)."""

    node: str | None
    source: SourceTable | None
    identifier: str
    _schema: str | None
    is_cte = False

    def __new__(cls, text: str, *, identifier: str, schema: str | None = None, node: str | None = None, source: SourceTable | None = None):
        made = super().__new__(cls, text)
        made.identifier, made._schema, made.node, made.source = identifier, schema, node, source
        return made

    @property
    def schema(self) -> str:
        """A source's schema; a model's is the profile's, which the template reads as target.schema."""
        if self._schema is None:
            raise DslError(f"the schema of {str(self)} is not known to the model", hint=_NO_SCHEMA)
        return self._schema

    @property
    def database(self) -> str:
        raise DslError(f"the database of {str(self)} is not known to the model", hint=_NO_SCHEMA)

    @property
    def name(self) -> str:
        return self.identifier

    @property
    def table(self) -> str:
        return self.identifier

    def get(self, key: str, default: Any = None) -> Any:
        """dbt_utils checks `obj is mapping and obj.get('metadata').get('type')` ends with Relation."""
        return {"metadata": {"type": "FlowForgeRelation"}}.get(key, default)

    def render(self) -> str:
        return str.__str__(self)


Mapping.register(RelationName)  # so Jinja's `is mapping` holds, as for dbt's Relation


_NO_SCHEMA = "FlowForge builds every model in the profile's schema: write {{ target.schema }} (and target.database)"


class _This:
    """`{{ this }}`: the model's own relation, resolved per render, with dbt's `identifier`,
    `name` and `table`; its schema is the profile's (target.schema)."""

    def __str__(self) -> str:
        return quote_identifier(_CURRENT.get().relation)

    def __html__(self) -> str:
        return str(self)

    @property
    def identifier(self) -> str:
        return _CURRENT.get().relation

    name = table = identifier

    @property
    def schema(self) -> str:
        raise DslError("this.schema is not known to the model", hint=_NO_SCHEMA)

    database = schema


def _ref(*names: Any, version: Any = None, v: Any = None) -> RelationName:
    """`ref('name')`, or dbt's `ref('package', 'name')` for the project's own package; a model
    version (`version=`/`v=`) is a dbt feature FlowForge does not have."""
    ctx = _CURRENT.get()
    if version is not None or v is not None:
        raise DslError("ref() with a model version: FlowForge has no model versions", hint="ref the model by its name alone")
    if len(names) == 2 and str(names[0]) == ctx.package:
        names = names[1:]
    if len(names) != 1:
        shown = ", ".join(map(repr, names))
        raise DslError(
            f"ref({shown}) does not name a model of this project",
            hint=f"write ref('name'){f', or ref({ctx.package!r}, name)' if ctx.package else ''}; FlowForge reads no other packages",
        )
    name = names[0]
    node = ctx.resolve_ref(str(name))
    if node is None:
        ctx.missing.append(str(name))
        return RelationName(quote_identifier(str(name)), identifier=str(name))
    ctx.refs.append(node)
    from flowforge_compiler.authoring import relation_for

    relation = relation_for(node)
    return _limited(ctx, RelationName(quote_identifier(relation), identifier=relation, node=node))


def _source(source_name: str, table_name: str) -> RelationName:
    ctx = _CURRENT.get()
    table = ctx.sources.get((str(source_name), str(table_name)))
    if table is None:
        ctx.missing.append(f"source('{source_name}', '{table_name}')")
        return RelationName(quote_identifier(str(table_name)), identifier=str(table_name))
    ctx.source_tables.append(table)
    return _limited(ctx, RelationName(quote_parts(table.parts), identifier=table.identifier, schema=table.schema, source=table))


def _limited(ctx: RenderContext, name: RelationName) -> RelationName:
    """With dbt's --empty, a relation as a query of none of its rows, as dbt renders it."""
    if not ctx.empty:
        return name
    text = f"(select * from {name} where false limit 0) _dbt_limit_subq_{name.identifier}"
    return RelationName(text, identifier=name.identifier, schema=name._schema, node=name.node, source=name.source)


def _var(name: str, default: Any = _MISSING) -> Any:
    ctx = _CURRENT.get()
    if name in ctx.vars:
        value = ctx.vars[name]
    elif default is not _MISSING:
        value = default
    else:
        known = ", ".join(sorted(ctx.vars)) or "none"
        raise DslError(
            f"var({name!r}) is not defined (project vars: {known})",
            hint=f"add `{name}: ...` under `vars:` in project.yml, pass --vars, or give a default: var({name!r}, ...)",
        )
    ctx.vars_read[name] = value
    return value


def _config(**kwargs: Any) -> str:
    ctx = _CURRENT.get()
    ctx.kept.update({k: v for k, v in kwargs.items() if k in ctx.config_kept})
    kwargs = {k: v for k, v in kwargs.items() if k not in ctx.config_kept}
    ignored = sorted(k for k in kwargs if k in ctx.config_ignored)
    if ignored:
        log.warning("%s: config() %s not supported by FlowForge and ignored", ctx.display, ", ".join(ignored))
        kwargs = {k: v for k, v in kwargs.items() if k not in ctx.config_ignored}
    try:
        ctx.config_model.model_validate(kwargs)
    except ValidationError as exc:
        raise DslError(f"config(): {describe_validation_error(exc, ctx.config_model)}") from exc
    ctx.config.update(kwargs)
    return ""


def _env_var(name: str, default: Any = None) -> str:
    ctx = _CURRENT.get()
    ctx.env_read.add(name)
    if name in ctx.environ:
        return ctx.environ[name]
    if default is not None:
        return str(default)
    raise DslError(
        f"environment variable {name!r} is not set",
        hint=f"export {name}=... or give a default: env_var({name!r}, '...')",
    )


def _is_incremental() -> bool:
    return _CURRENT.get().incremental


class DslError(Exception):
    """Raised inside a template by a DSL function; converted to TemplateError with a line."""

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.hint = hint


_UNDEFINED_HINT = "DSL names are ref, source, var, config, this, target, env_var, is_incremental and your macros"


class MacroNamespace(TemplateNamespace):
    """A package's macros, as templates call them: `package.macro(...)`."""

    def __init__(self, package: str, macros: Mapping[str, Any]):
        self.package, self.macros = package, macros

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name in ("package", "macros"):
            raise AttributeError(name)
        return self.member(name)

    def member(self, name: str) -> Any:
        if name not in self.macros:
            raise DslError(f"{self.package}.{name} is not a macro of the package {self.package}", hint="see the macros/ folder of the package for its names")
        return self.macros[name]


class LazyMacros(dict[str, Any]):
    """A macro package whose files are compiled when one of their macros is first used (dbt's
    own library: ~300 files, of which a project calls a few). `files` maps each macro's name
    to the file defining it; `load(file)` compiles one and stores its macros here."""

    def __init__(self, files: Mapping[str, Any], load: Callable[[Any], None]):
        super().__init__()
        self._files, self._load, self._loaded = files, load, set[int]()

    def __contains__(self, name: object) -> bool:
        return dict.__contains__(self, name) or name in self._files

    def __missing__(self, name: str) -> Any:
        file = self._files.get(name)
        if file is None or id(file) in self._loaded:
            raise KeyError(name)
        self._loaded.add(id(file))
        self._load(file)
        return dict.__getitem__(self, name)

    def get(self, name: str, default: Any = None) -> Any:
        try:
            return self[name]
        except KeyError:
            return default

    def names_in(self, file: Any) -> list[str]:
        return [name for name, defined_in in self._files.items() if defined_in is file]


class ModelRenderer:
    """Renders model templates; macros are loaded once and shared by every model."""

    def __init__(
        self,
        templates: Mapping[str, str],
        macro_names: list[str],
        *,
        target: object | None = None,
        extra_globals: Callable[[jinja2.Environment], Mapping[str, Any]] | None = None,
        undefined_hint: str = _UNDEFINED_HINT,
        extensions: tuple[type[jinja2.ext.Extension], ...] = (),
        packages: Mapping[str, list[str]] | None = None,
        undefined: type[jinja2.Undefined] = jinja2.StrictUndefined,
        library: tuple[str, Mapping[str, Any]] | None = None,
    ):
        """`extra_globals` adds names beside the DSL's (a dbt project's builtins). `packages` names each package's macro
        templates: a package's macros are called as `package.macro` and see each other (then
        the globals) unqualified. `undefined` is what an unknown name is (dbt's render as empty
        text; FlowForge's are errors). `library` is a package of macros every template also
        sees unqualified, after every other name, compiled when first used: (its name, each
        macro's file, a `(display, text)` pair)."""
        self._templates = dict(templates)
        self._undefined_hint = undefined_hint
        self.env = ProjectSandbox(
            loader=jinja2.FunctionLoader(self._load),
            undefined=undefined,
            autoescape=False,
            keep_trailing_newline=True,
            auto_reload=False,
            extensions=list(extensions),
        )
        self.env.globals.update(
            ref=_ref,
            source=_source,
            var=_var,
            config=_config,
            env_var=_env_var,
            is_incremental=_is_incremental,
            this=_This(),
            target=target,  # the profile: target.name, .type, .schema, .database, .dialect
        )
        self.packages: dict[str, dict[str, Any]] = {name: {} for name in packages or {}}
        self.env.globals.update({name: MacroNamespace(name, macros) for name, macros in self.packages.items()})
        if library is not None:
            name, files = library
            self.env.fallback = self.packages[name] = LazyMacros(files, self._load_library_file)
            self.env.globals[name] = MacroNamespace(name, self.packages[name])
        if extra_globals is not None:
            self.env.globals.update(extra_globals(self.env))
        self._load_macros(macro_names, self.env.globals)
        for name, package_macros in (packages or {}).items():
            self._load_macros(package_macros, self.packages[name])

    def _load(self, name: str) -> tuple[str, str, Callable[[], bool]] | None:
        # Returning the name as the filename makes Jinja's tracebacks point into the file.
        source = self._templates.get(name)
        return None if source is None else (source, name, lambda: True)

    def _load_macros(self, names: list[str], into: MutableMapping[str, Any]) -> None:
        """Load macro templates into `into`: the globals, or a package's own names (which its
        templates see before the globals)."""
        own = None if into is self.env.globals else into
        defined_in: dict[str, str] = {}  # macro -> the file that defines it
        # Two passes: macros in one file may call macros defined in another.
        for first in (True, False):
            for name in names:
                template = self._template(name, own)
                context = template.new_context()
                for _chunk in template.root_render_func(context):
                    pass  # runs the file's top level: defines its macros and {% set %} names
                if first:
                    for macro in (k for k, v in context.vars.items() if isinstance(v, jinja2.runtime.Macro)):
                        other = defined_in.setdefault(macro, name)
                        if other != name:  # as dbt: one of the two would win silently
                            raise TemplateError(
                                f"the macro {macro!r} is defined twice: in {other} and in {name}",
                                location=Location(name),
                                hint="rename or remove one of them",
                            )
                # every name, `_private` ones too (a module would hide those; dbt_utils calls its own)
                into.update(dict(context.vars))

    def _load_library_file(self, file: Any) -> None:
        """Compile one file of the library; its macros see the project's names first, as dbt's
        internal macros do (a project's `generate_schema_name` wins over dbt's)."""
        display, text = file
        library = self.env.fallback
        assert isinstance(library, LazyMacros)
        self._templates[display] = text
        template = self._template(display)
        context = template.new_context()
        for _chunk in template.root_render_func(context):
            pass
        library.update({name: context.vars[name] for name in library.names_in(file) if name in context.vars})

    def _template(self, name: str, own: MutableMapping[str, Any] | None = None) -> jinja2.Template:
        try:
            return self.env.get_template(name, globals=own)
        except jinja2.TemplateSyntaxError as exc:
            raise TemplateError(
                f"Jinja syntax error: {exc.message}", location=Location(name, exc.lineno)
            ) from exc

    def render(self, name: str, ctx: RenderContext) -> str:
        """Render one template in the given context; errors name the file and line."""
        source = self._templates[name]
        simple = simple_calls(source)
        if simple is not None:
            return self._run(name, ctx, lambda: _render_simple(source, simple, name))
        return self._run(name, ctx, lambda: self._template(name).render())

    def render_text(self, text: str) -> str:
        """A text with Jinja in it (a dbt test's argument), rendered within the render in progress."""
        return self.env.from_string(text).render()

    def call_macro(self, macro: str, ctx: RenderContext, arguments: Callable[[], dict[str, Any]]) -> str:
        """Call a macro made global (a dbt generic test's `test_<name>`) in the given context,
        with the keyword arguments `arguments` builds there (so its ref() and source() count)."""

        def call() -> str:
            package, _, name = macro.rpartition(".")
            target = self.packages.get(package, {}).get(name) if package else self.env.globals.get(macro)
            if not callable(target):
                raise DslError(f"no macro named {macro!r}")
            return str(target(**arguments()))

        return self._run(ctx.display, ctx, call)

    def _run(self, name: str, ctx: RenderContext, work: Callable[[], str]) -> str:
        token = _CURRENT.set(ctx)
        try:
            return work()
        except FlowForgeError:
            raise
        except DslError as exc:
            raise TemplateError(f"{exc}{_inner_place(exc, name)}", location=Location(name, _template_line(exc, name)), hint=exc.hint) from exc
        except jinja2.UndefinedError as exc:
            raise TemplateError(
                f"{exc.message}{_inner_place(exc, name)}",
                location=Location(name, _template_line(exc, name)),
                hint=self._undefined_hint,
            ) from exc
        except jinja2.TemplateError as exc:
            raise TemplateError(f"{exc}{_inner_place(exc, name)}", location=Location(name, _template_line(exc, name))) from exc
        except Exception as exc:  # noqa: BLE001 - a user template raised; keep the location
            raise TemplateError(
                f"error while rendering: {type(exc).__name__}: {exc}{_inner_place(exc, name)}",
                location=Location(name, _template_line(exc, name)),
            ) from exc
        finally:
            _CURRENT.reset(token)


# The fast path. Most models only call DSL functions with literal arguments: `{{ ref('x') }}`.
# Compiling such a file with Jinja costs ~1 ms; calling the same DSL functions directly costs
# microseconds and gives the same text. Anything else (statements, filters, macros, comments,
# whitespace control, non-literal arguments) goes through Jinja.
_EXPRESSION = re.compile(r"\{\{(?P<body>[^{}]*)\}\}")
_CALL = re.compile(r"^\s*(?P<func>ref|source|var|config|env_var)\s*\((?P<args>.*)\)\s*$", re.DOTALL)
_THIS = re.compile(r"^\s*this\s*$")
# The DSL functions by name (the fast path calls them; dbt generic tests build their `model` with them)
DSL_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "ref": _ref, "source": _source, "var": _var, "config": _config, "env_var": _env_var,
}


@dataclass(frozen=True)
class _SimpleCall:
    start: int
    end: int
    func: str  # "this" or a DSL function
    args: tuple[Any, ...]
    kwargs: dict[str, Any]


def simple_calls(source: str) -> list[_SimpleCall] | None:
    """The DSL calls of a template that needs no Jinja, or None when Jinja is needed."""
    if "{%" in source or "{#" in source:
        return None
    calls: list[_SimpleCall] = []
    for match in _EXPRESSION.finditer(source):
        body = match.group("body")
        if _THIS.match(body):
            calls.append(_SimpleCall(match.start(), match.end(), "this", (), {}))
            continue
        call = _CALL.match(body)
        parsed = _literal_arguments(call.group("args")) if call else None
        if call is None or parsed is None:
            return None
        calls.append(_SimpleCall(match.start(), match.end(), call.group("func"), *parsed))
    if source.count("{{") != len(calls) or source.count("}}") != len(calls):
        return None
    return calls


def _literal_arguments(text: str) -> tuple[tuple[Any, ...], dict[str, Any]] | None:
    try:
        node = ast.parse(f"f({text})", mode="eval").body
        assert isinstance(node, ast.Call)
        args = tuple(ast.literal_eval(a) for a in node.args)
        kwargs = {k.arg: ast.literal_eval(k.value) for k in node.keywords if k.arg is not None}
    except (SyntaxError, ValueError, TypeError, AssertionError, MemoryError, RecursionError):
        return None
    if len(kwargs) != len(node.keywords) or any(isinstance(a, ast.Starred) for a in node.args):
        return None
    return args, kwargs


def _render_simple(source: str, calls: list[_SimpleCall], name: str) -> str:
    parts: list[str] = []
    position = 0
    for call in calls:
        parts.append(source[position:call.start])
        try:
            value = str(_This()) if call.func == "this" else DSL_FUNCTIONS[call.func](*call.args, **call.kwargs)
        except DslError as exc:
            raise TemplateError(str(exc), location=Location(name, source.count("\n", 0, call.start) + 1), hint=exc.hint) from exc
        except TypeError as exc:
            raise TemplateError(str(exc), location=Location(name, source.count("\n", 0, call.start) + 1)) from exc
        parts.append(str(value))
        position = call.end
    parts.append(source[position:])
    return "".join(parts)


def _template_line(exc: BaseException, name: str) -> int | None:
    """Jinja rewrites tracebacks to template lines; take the innermost frame in the template."""
    return next((f.lineno for f in reversed(traceback.extract_tb(exc.__traceback__)) if f.filename == name), None)


def _inner_place(exc: BaseException, name: str) -> str:
    """The other template (a macro's file) the error arose in, as ` (in file)`; empty when it
    arose in the template itself. No line: Jinja's lines for frames of macros called across
    files are not reliable."""
    inner = next((f for f in reversed(traceback.extract_tb(exc.__traceback__)) if f.filename.endswith(".sql") or f.filename == name), None)
    return "" if inner is None or inner.filename == name else f" (in {inner.filename})"
