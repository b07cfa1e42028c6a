"""SQL models -> drafts: render the template, check it is one query, make it portable.

Portable means: parsed once in the model's dialect (the project's `dialect:`, or
`config(dialect=...)`), its tables checked against what it declares, and written in the
engine's dialect (see `transpile`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from flowforge_compiler.authoring import relation_for
from flowforge_compiler.dbt_project import IGNORED_MODEL_CONFIG, KEPT_MODEL_CONFIG
from flowforge_compiler.drafts import (
    DBT_DEFAULT_MATERIALIZATION,
    DEFAULT_MATERIALIZATION,
    Missing,
    NameIndex,
    NodeDraft,
    collect_missing,
    merged_config,
    model_config,
    node_materialization,
)
from flowforge_compiler.dsl import ModelRenderer, RenderContext
from flowforge_compiler.errors import Location, ProjectFileError, TemplateError
from flowforge_compiler.fingerprints import file_digest
from flowforge_compiler.materializations import MaterializationConfig
from flowforge_compiler.plan import NodeConfig
from flowforge_compiler.project import Project, SqlModelFile
from flowforge_compiler.project_file import ModelConfig
from flowforge_compiler.rewrites import Rewrite
from flowforge_compiler.sources_file import SourceTable
from flowforge_compiler.sql_cache import SqlCache
from flowforge_compiler.sql_statements import (
    SOURCE_DIALECT,
    is_blank,
    parse_spec_era_ddl,
    single_statement,
    statement_tokens,
    strip_statement,
)
from flowforge_compiler.transpile import parse_model, to_engine, undeclared_tables

if TYPE_CHECKING:
    from flowforge_compiler.compile_columns import ColumnCatalog

log = logging.getLogger("flowforge")


@dataclass(frozen=True)
class SqlCompile:
    """What every SQL model of one compile shares."""

    project: Project
    renderer: ModelRenderer
    index: NameIndex
    vars: Mapping[str, Any]
    environ: Mapping[str, str]
    engine_dialect: str
    strict: bool = False
    rules: tuple[Rewrite, ...] = ()  # the engine's rewrites
    support: set[str] = field(default_factory=set)  # statements the engine runs before building
    cache: SqlCache | None = None  # results of the SQL stage from earlier compiles
    code: str = ""  # code_identity() of the compiler and the engine: part of every cache key
    columns: ColumnCatalog | None = None  # relations' column names while compiling (dbt's adapter.get_columns_in_relation)
    empty: bool = False  # dbt's --empty: models read no row of what they ref


def sql_draft(sql_model: SqlModelFile, run: SqlCompile, missing: Missing) -> NodeDraft:
    """One SQL model as a draft, its SQL in the engine's dialect."""
    where = Location(sql_model.path)
    relation = relation_for(sql_model.name)

    def render(incremental: bool, execute: bool = True) -> tuple[str, RenderContext]:
        ctx = RenderContext(
            display=sql_model.path,
            relation=relation,
            resolve_ref=run.index.resolve,
            sources=run.project.sources,
            vars=run.vars,
            environ=run.environ,
            incremental=incremental,
            package=run.project.config.name,
            config_ignored=IGNORED_MODEL_CONFIG if run.project.dbt else frozenset(),
            config_kept=KEPT_MODEL_CONFIG if run.project.dbt else frozenset(),
            columns_of=run.columns.of if run.columns else None,
            execute=execute,
            empty=run.empty,
        )
        return strip_statement(run.renderer.render(sql_model.path, ctx)), ctx

    try:
        sql, full = render(incremental=False)
    except TemplateError as needs_run_time:
        if not run.project.dbt:
            raise
        return _run_time_draft(sql_model, run, missing, needs_run_time, lambda incremental: render(incremental, execute=False)[1])
    if disabled_in_file(full):
        return _disabled(sql_model)
    settings = merged_config(model_config(run.project, sql_model.name), full.config)
    written_as = settings.materialized
    ddl = parse_spec_era_ddl(sql)
    if ddl is not None:
        if ddl.relation.lower() != relation.lower():
            raise ProjectFileError(
                f"the file creates {ddl.relation!r} but its model builds {relation!r}",
                location=where,
                hint="a model's relation is its file name without .ff.sql; rename the file or the relation",
            )
        if full.config.get("materialized") not in (None, ddl.kind):
            raise ProjectFileError(
                f"config(materialized={full.config['materialized']!r}) contradicts `create {ddl.kind}`",
                location=where,
                hint="write only a SELECT and set the materialization with config()",
            )
        single_statement(sql, where)  # the DDL itself is one statement
        sql, written_as = ddl.select, full.config.get("materialized") or ddl.kind
    default = DBT_DEFAULT_MATERIALIZATION if run.project.dbt else DEFAULT_MATERIALIZATION
    materialization = node_materialization(settings, sql_model.path, written_as, default=default)
    if is_blank(sql):
        raise TemplateError("the model renders to no SQL", location=where, hint="a model is one SELECT statement")

    refs = list(full.refs)
    sql_incremental = None
    sources = list(full.source_tables)
    if materialization.renders_incremental:
        sql_incremental, incremental = render(incremental=True)
        refs += incremental.refs
        sources += incremental.source_tables
        full.vars_read.update(incremental.vars_read)
        full.env_read |= incremental.env_read
        full.missing.extend(incremental.missing)
    collect_missing(sql_model.name, full.missing, run.index, missing)
    if sql_model.name in refs:
        raise ProjectFileError(
            f"{sql_model.name!r} refers to itself with ref()",
            location=where,
            hint="a model reads its own relation with {{ this }} (in an incremental model, inside is_incremental())",
        )
    dialect = settings.dialect or run.project.config.dialect
    transpile = settings.transpile is not False
    written: str | None = None
    if full.missing:  # the compile stops on the missing names; a second statement is refused first
        sql = single_statement(sql, where, query=True)
    else:
        declared = {(relation,), *((relation_for(r),) for r in refs), *(t.parts for t in sources)}
        written = sql
        sql = analysed(sql, dialect, run, where, declared, transpile=transpile)
        if sql_incremental is not None:
            what = "the model (with is_incremental())"
            sql_incremental = analysed(sql_incremental, dialect, run, where, declared, what=what, query=ddl is None, transpile=transpile)
    return _draft(
        sql_model, run, settings, materialization, refs, full.source_tables, full,
        config=NodeConfig(dialect=dialect, transpile=transpile),
        sql=sql,
        sql_incremental=sql_incremental,
        sql_written=written if written is not None and written != sql else None,
    )  # fmt: skip


def _draft(
    sql_model: SqlModelFile, run: SqlCompile, settings: ModelConfig, materialization: MaterializationConfig, refs: list[str],
    sources: list[SourceTable], rendered: RenderContext, **rest: Any,
) -> NodeDraft:  # fmt: skip
    """A SQL model's draft: what it reads (its refs, and seeds its sources name) and its settings."""
    seeded_sources = {run.index.resolve(t.identifier) for t in sources}  # a source may name a seed
    depends_on = (set(refs) | seeded_sources) - {None, sql_model.name}
    return NodeDraft(
        id=sql_model.name,
        kind="sql",
        path=sql_model.path,
        materialization=materialization,
        depends_on=sorted(d for d in depends_on if d),
        source_relations=sorted({t.relation for t in sources}),
        tags=sorted(set(settings.tags or [])),
        description=settings.description,
        column_descriptions=dict(settings.columns or {}),
        vars_read=dict(sorted(rendered.vars_read.items())),
        env_read=sorted(rendered.env_read),
        **rest,
    )


def _run_time_draft(
    sql_model: SqlModelFile, run: SqlCompile, missing: Missing, why: TemplateError, parse: Callable[[bool], RenderContext]
) -> NodeDraft:
    """A dbt model that could not render while compiling (it reads the warehouse or the run, or
    fails only when executed) renders in its task at run time, as dbt renders every model; its
    refs, sources and config come from rendering it as dbt parses (`execute` false), which must
    work. An ephemeral model cannot wait: its SQL is inlined into its readers while compiling."""
    try:
        full = parse(False)
    except TemplateError:
        raise why from None
    if disabled_in_file(full):
        return _disabled(sql_model)
    settings = merged_config(model_config(run.project, sql_model.name), full.config)
    materialization = node_materialization(settings, sql_model.path, settings.materialized, default=DBT_DEFAULT_MATERIALIZATION)
    if not materialization.builds_relation:
        raise TemplateError(
            f"{why.message} (an ephemeral model is inlined while compiling, so it cannot render at run time)",
            location=why.location,
            hint=why.hint or "materialize it as a view or a table to render it at run time",
        )
    refs, sources = list(full.refs), list(full.source_tables)
    if materialization.renders_incremental:
        incremental = parse(True)
        refs += incremental.refs
        sources += incremental.source_tables
        full.missing.extend(incremental.missing)
    collect_missing(sql_model.name, full.missing, run.index, missing)
    log.info("%s renders at run time: %s", sql_model.path, why.render())
    return _draft(
        sql_model, run, settings, materialization, refs, sources, full,
        config=NodeConfig(dialect=run.project.config.dialect, transpile=settings.transpile is not False),
        payload={"templates": _templates_digest(sql_model, run.project)},
        render_at_run_time=why.render(),
    )  # fmt: skip


def _disabled(sql_model: SqlModelFile) -> NodeDraft:
    materialization = node_materialization(ModelConfig(), sql_model.path, default=DBT_DEFAULT_MATERIALIZATION)
    return NodeDraft(id=sql_model.name, kind="sql", path=sql_model.path, materialization=materialization, depends_on=[], tags=[], disabled=True)


def disabled_in_file(ctx: RenderContext) -> bool:
    """A dbt model whose own `config(enabled=...)` is false (or the text `false`), as dbt reads it."""
    enabled = ctx.kept.get("enabled", True)
    return enabled is False or (isinstance(enabled, str) and enabled.strip().lower() == "false")


def _templates_digest(sql_model: SqlModelFile, project: Project) -> str:
    """What a run-time node's SQL is rendered from, as far as the plan can know: its file and
    every macro (the project's and its packages'); what the warehouse answers is read at run time."""
    texts = [sql_model.text, *(project.macros[k] for k in sorted(project.macros))]
    texts += [package.macros[k] for package in project.packages for k in sorted(package.macros)]
    return file_digest("\0".join(texts).encode())


def analysed(
    sql: str,
    dialect: str,
    run: SqlCompile,
    where: Location,
    declared: set[tuple[str, ...]] | None = None,
    *,
    what: str = "the model",
    query: bool = True,
    transpile: bool = True,
) -> str:
    """`sql` checked to be one query and written in the engine's dialect (as written when the
    dialects agree, or with transpile off); tables it reads that nothing in `declared` declares
    are reported (errors with --strict). The result is cached by all of these inputs."""
    key = SqlCache.key(run.code, sql, dialect, run.engine_dialect, sorted(declared) if declared is not None else None, what, query, transpile)
    done = run.cache.get(key) if run.cache is not None else None
    if done is None:
        kept, tokens = statement_tokens(sql, where, what=what, query=query)
        support: set[str] = set()
        unknown: list[str] = []
        engine_sql = kept
        if transpile:
            parsed = parse_model(kept, dialect, where, tokens if dialect == SOURCE_DIALECT else None)
            unknown = undeclared_tables(parsed, declared) if declared is not None else []
            if dialect != run.engine_dialect:
                engine_sql = to_engine(parsed, run.engine_dialect, where, what, support, run.rules)
        done = {"sql": engine_sql, "undeclared": unknown, "support": sorted(support)}
        if run.cache is not None:
            run.cache.put(key, done)
    if done["undeclared"]:
        message = f"{what} reads {', '.join(map(repr, done['undeclared']))}, which is neither a ref(), a source() nor a CTE"
        if run.strict:
            raise ProjectFileError(message, location=where, hint="declare it in sources.yml and read it with source()")
        log.warning("%s: %s", where, message)
    run.support.update(done["support"])
    return str(done["sql"])
