"""dbt's singular tests (`tests/*.sql`) and the uses of a project's own generic tests (`{% test
name(model, column_name) %}` named in a schema file): each a query that fails when it returns
rows, compiled like a model (rendered, parsed once, written in the engine's dialect) into a
check of type `sql`.

A test guards the last node it reads in build order, so it runs once everything it reads is
built; a singular test's `config()` takes `severity`, `tags`, `enabled` and `fail_calc` (the
failures are that aggregate over the rows, as dbt_utils' `equal_rowcount` counts), a generic test's
use takes `severity`, `where` and `tags` in its schema file (dbt's other test settings are named
in a warning and left unread).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from functools import partial
from typing import Literal

from pydantic import ValidationError, field_validator
from sqlglot import exp

from flowforge_compiler.authoring import relation_for
from flowforge_compiler.check_types import FailingRows, PlanCheck, TestCall, Threshold
from flowforge_compiler.dbt_project import GenericTest
from flowforge_compiler.drafts import Missing, collect_missing
from flowforge_compiler.dsl import DSL_FUNCTIONS, ModelRenderer, RenderContext, simple_calls
from flowforge_compiler.errors import DependencyNotFoundError, Location, ProjectFileError, TemplateError
from flowforge_compiler.plan import PlanNode, Relation, ephemeral_ctes
from flowforge_compiler.project import SqlModelFile
from flowforge_compiler.sql_models import SqlCompile, analysed
from flowforge_compiler.sql_statements import boolean_filter, inject_ctes, one_expression, rendered_test
from flowforge_compiler.yaml_files import Strict, describe_validation_error

log = logging.getLogger("flowforge")

# dbt's test settings that FlowForge does not read (warned about, never applied)
IGNORED_TEST_CONFIG = frozenset(
    {"store_failures", "store_failures_as", "limit", "meta", "database", "schema", "alias", "group", "where"}
)


class SingularTestConfig(Strict):
    """The keys of `config(...)` in a singular test."""

    severity: Literal["error", "warn"] = "error"
    tags: list[str] = []
    enabled: bool = True
    fail_calc: str = "count(*)"  # dbt's: what the failures are, over the query's rows
    warn_if: Threshold | None = None  # dbt's thresholds on them (None: `!= 0`)
    error_if: Threshold | None = None

    @field_validator("severity", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value  # dbt writes ERROR / WARN

    @field_validator("tags", mode="before")
    @classmethod
    def _listed(cls, value: object) -> object:
        return [value] if isinstance(value, str) else value


def singular_checks(tests: Sequence[SqlModelFile], run: SqlCompile, nodes: Sequence[PlanNode], taken: set[str]) -> list[PlanCheck]:
    """One check per enabled singular test; `taken` are the check ids already in the plan."""
    query = _Queries(run, nodes, taken)
    for test in tests:
        sql, ctx, why = query.rendered(test.path, test.name, partial(run.renderer.render, test.path))
        settings = SingularTestConfig.model_validate(ctx.config)
        if settings.enabled:
            query.add(test.name, test.name, sql, ctx, settings, test.path, why)
    return query.done()


def generic_checks(uses: Sequence[GenericTest], run: SqlCompile, nodes: Sequence[PlanNode], taken: set[str]) -> list[PlanCheck]:
    """One check per use of a generic test the project defines: its macro `test_<name>` called
    with the model (or source; with `where:`, the filtered rows), `column_name` and the use's
    arguments, as dbt calls it."""
    query = _Queries(run, nodes, taken)
    dialect = run.project.config.dialect
    for use in uses:
        sql, ctx, why = query.rendered(use.path, use.test, partial(call_test, run.renderer, use, dialect))
        own = SingularTestConfig.model_validate(ctx.config)  # the test's own config(): the use's settings win
        mine = {"fail_calc": use.fail_calc, "warn_if": use.warn_if, "error_if": use.error_if}
        try:
            settings = SingularTestConfig.model_validate({
                **own.model_dump(), **{k: v for k, v in mine.items() if v is not None},
                "severity": use.severity if use.severity != "error" else own.severity, "tags": [*use.tags, *own.tags],
            })  # fmt: skip
        except ValidationError as exc:
            raise ProjectFileError(f"the test {use.test!r} on {use.table}: {describe_validation_error(exc, SingularTestConfig)}", location=Location(use.path)) from exc
        name = use.name or "_".join(p for p in (use.test, "source" if use.source else use.table, use.column) if p)
        call = TestCall(test=use.test, table=use.table, column=use.column, args=use.args, where=use.where)
        query.add(_plain(name), use.test, sql, ctx, settings, use.path, why, call)
    return query.done()


def call_test(renderer: ModelRenderer, use: GenericTest, dialect: str, ctx: RenderContext) -> str:
    """A generic test's SQL: its macro (`test_<name>`, or `package.test_<name>` for a package's)
    called with the use's arguments, as dbt calls it."""
    package, _, name = use.test.rpartition(".")  # a package's test: dbt_utils.expression_is_true
    return renderer.call_macro(f"{package}.test_{name}" if package else f"test_{name}", ctx, partial(arguments, use, dialect, renderer))


def arguments(use: GenericTest, dialect: str, renderer: ModelRenderer) -> dict[str, object]:
    """What dbt passes a generic test: `model` (the relation, or its rows under `where:`, as
    a subquery built with sqlglot around the one expression the filter must be),
    `column_name` when the use has a column, and the use's own arguments, a text with Jinja in
    it rendered first, as dbt renders a test's arguments."""
    model = DSL_FUNCTIONS["source"](*use.source) if use.source else DSL_FUNCTIONS["ref"](use.table)
    if use.where:
        condition = boolean_filter(use.where, Location(use.path), what=f"the where: of the test {use.test!r}", dialect=dialect)
        rows = exp.select("*").from_(exp.maybe_parse(model, into=exp.Table, dialect=dialect)).where(exp.maybe_parse(condition, dialect=dialect))
        model = rows.subquery("dbt_subquery").sql(dialect)
    args = {key: _relation_argument(renderer.render_text(value) if isinstance(value, str) and ("{{" in value or "{%" in value) else value) for key, value in use.args.items()}
    return {"model": model, **({"column_name": use.column} if use.column else {}), **args}


def _relation_argument(value: object) -> object:
    """An argument written `ref('x')` or `source('a', 'b')` (`to:`, `compare_model:`) is that
    relation, as dbt renders it; the call is recorded, so the check runs once it is built. It
    is read as the renderer's fast path reads a literal DSL call (`simple_calls`)."""
    calls = simple_calls(f"{{{{ {value} }}}}") if isinstance(value, str) and "{" not in value and "}" not in value else None
    if not calls or len(calls) != 1 or calls[0].func not in ("ref", "source"):
        return value
    return DSL_FUNCTIONS[calls[0].func](*calls[0].args, **calls[0].kwargs)


def _plain(name: str) -> str:
    return re.sub(r"[^0-9A-Za-z_]+", "_", name).strip("_") or "test"


class _Queries:
    """Failing-row queries turned into checks: each rendered, checked to be one query, written
    in the engine's dialect, and bound to the last node it reads."""

    def __init__(self, run: SqlCompile, nodes: Sequence[PlanNode], taken: set[str]):
        self.run, self.taken = run, taken
        self.position = {node.id: i for i, node in enumerate(nodes)}  # nodes come in build order
        self.by_id = {node.id: node for node in nodes}
        self.missing: Missing = {}
        self.checks: list[PlanCheck] = []

    def rendered(self, display: str, name: str, render: Callable[[RenderContext], str]) -> tuple[str, RenderContext, str | None]:
        """A test's SQL and what its render declared; a dbt test that cannot render while
        compiling (it reads the warehouse) renders at run time: its reads come from rendering it
        as dbt parses, and the third value says why (its SQL is empty until it runs)."""
        ctx = self.context(display, name, SingularTestConfig)
        try:
            return render(ctx), ctx, None
        except TemplateError as needs_run_time:
            if not self.run.project.dbt:
                raise
            parsed = self.context(display, name, SingularTestConfig, execute=False)
            try:
                render(parsed)
            except TemplateError:
                raise needs_run_time from None
            return "", parsed, needs_run_time.render()

    def context(self, display: str, name: str, config: type[Strict], *, execute: bool = True) -> RenderContext:
        run = self.run
        return RenderContext(
            display=display,
            relation=name,
            resolve_ref=run.index.resolve,
            sources=run.project.sources,
            vars=run.vars,
            environ=run.environ,
            package=run.project.config.name,
            config_model=config,
            config_ignored=IGNORED_TEST_CONFIG,
            columns_of=run.columns.of if run.columns else None,
            execute=execute,
        )

    def add(
        self, check_id: str, name: str, rendered: str, ctx: RenderContext, settings: SingularTestConfig, path: str,
        at_run_time: str | None = None, call: TestCall | None = None,
    ) -> None:  # fmt: skip
        run = self.run
        collect_missing(name, ctx.missing, run.index, self.missing)
        if self.missing:
            return
        if any(ref not in self.by_id for ref in ctx.refs):  # it reads a model its own config() disables: left out, as dbt leaves it
            log.info("%s: left out: it reads a disabled model", path)
            return
        where = Location(path)
        engine_sql = ""
        if at_run_time is None:
            sql = rendered_test(rendered, name, where)
            declared = {*((relation_for(r),) for r in ctx.refs), *(t.parts for t in ctx.source_tables)}
            engine_sql = analysed(sql, run.project.config.dialect, run, where, declared, what=f"the test {name!r}")
            ephemeral = ephemeral_ctes(self.by_id, ctx.refs, list(self.position))
            if ephemeral:  # as dbt tests an ephemeral model: its SQL inlined as a CTE
                engine_sql = inject_ctes(engine_sql, ephemeral)
        seeded = {run.index.resolve(t.identifier) for t in ctx.source_tables}
        read = sorted({*ctx.refs, *(s for s in seeded if s)}, key=lambda n: self.position[n])
        guarded = self.by_id[read[-1]] if read else None
        if guarded is not None:
            table, relation = guarded.relation, Relation(name=guarded.relation)
        elif ctx.source_tables:
            source = ctx.source_tables[0]
            table, relation = source.relation, Relation(schema_=source.schema, name=source.identifier)
        else:
            table, relation = name, Relation(name=name)
        calc: str | None = None
        fail_calc = settings.fail_calc
        if fail_calc.replace(" ", "").lower() != "count(*)":
            source_dialect = run.project.config.dialect
            one_expression(fail_calc, where, what=f"the fail_calc of the test {name!r}", dialect=source_dialect, kind="aggregate", hint="write an aggregate such as `sum(n)`")
            calc = exp.maybe_parse(fail_calc, dialect=source_dialect).sql(run.engine_dialect)
        unique, n = check_id, 1
        while unique in self.taken:
            n += 1
            unique = f"{check_id}_{n}"
        self.taken.add(unique)
        self.checks.append(
            FailingRows(
                id=unique, type="sql", table=table, relation=relation, node=guarded.id if guarded else None, nodes=read,
                severity=settings.severity, tags=sorted(set(settings.tags)), sql=engine_sql, path=path, fail_calc=calc,
                warn_if=settings.warn_if, error_if=settings.error_if, render_at_run_time=at_run_time, call=call,
            )  # fmt: skip
        )

    def done(self) -> list[PlanCheck]:
        if self.missing:
            raise DependencyNotFoundError(self.missing)
        return self.checks
