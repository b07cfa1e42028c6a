"""dbt's singular tests (`tests/*.sql`): each a query that fails when it returns rows, compiled
like a model (rendered, parsed once, written in the engine's dialect) into a check of type `sql`.

A test guards the last node it reads in build order, so it runs once everything it reads is
built; its `config()` takes `severity`, `tags` and `enabled` (dbt's other test settings are
named in a warning and left unread).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Literal

from pydantic import field_validator

from flowforge_compiler.authoring import relation_for
from flowforge_compiler.drafts import Missing, collect_missing
from flowforge_compiler.dsl import RenderContext
from flowforge_compiler.errors import DependencyNotFoundError, Location, TemplateError
from flowforge_compiler.plan import PlanCheck, PlanNode, Relation, SqlPlanCheck
from flowforge_compiler.project import SqlModelFile
from flowforge_compiler.project_file import Strict
from flowforge_compiler.sql_models import SqlCompile, analysed
from flowforge_compiler.sql_statements import is_blank, strip_statement

log = logging.getLogger("flowforge")

# dbt's test settings that FlowForge does not read (warned about, never applied)
IGNORED_TEST_CONFIG = frozenset(
    {"store_failures", "store_failures_as", "warn_if", "error_if", "limit", "fail_calc", "meta", "database", "schema", "alias", "group", "where"}
)


class SingularTestConfig(Strict):
    """The keys of `config(...)` in a singular test."""

    severity: Literal["error", "warn"] = "error"
    tags: list[str] = []
    enabled: bool = True

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
    position = {node.id: i for i, node in enumerate(nodes)}  # nodes come in build order
    by_id = {node.id: node for node in nodes}
    missing: Missing = {}
    checks: list[PlanCheck] = []
    for test in tests:
        ctx = RenderContext(
            display=test.path,
            relation=test.name,
            resolve_ref=run.index.resolve,
            sources=run.project.sources,
            vars=run.vars,
            environ=run.environ,
            package=run.project.config.name,
            config_model=SingularTestConfig,
            config_ignored=IGNORED_TEST_CONFIG,
        )
        sql = strip_statement(run.renderer.render(test.path, ctx))
        settings = SingularTestConfig.model_validate(ctx.config)
        if not settings.enabled:
            continue
        collect_missing(test.name, ctx.missing, run.index, missing)
        if missing:
            continue
        where = Location(test.path)
        if is_blank(sql):
            raise TemplateError("the test renders to no SQL", location=where, hint="a singular test is one SELECT of the failing rows")
        declared = {*((relation_for(r),) for r in ctx.refs), *(t.parts for t in ctx.source_tables)}
        engine_sql = analysed(sql, run.project.config.dialect, run, where, declared, what="the test")
        seeded = {run.index.resolve(t.identifier) for t in ctx.source_tables}
        read = sorted({*ctx.refs, *(s for s in seeded if s)}, key=lambda n: position[n])
        guarded = by_id[read[-1]] if read else None
        if guarded is not None:
            table, relation = guarded.relation, Relation(name=guarded.relation)
        elif ctx.source_tables:
            source = ctx.source_tables[0]
            table, relation = source.relation, Relation(schema=source.schema, name=source.identifier)
        else:
            table, relation = test.name, Relation(name=test.name)
        check_id = test.name if test.name not in taken else f"{test.name}_singular"
        taken.add(check_id)
        checks.append(
            SqlPlanCheck(
                id=check_id,
                type="sql",
                table=table,
                relation=relation,
                node=guarded.id if guarded else None,
                nodes=read,
                severity=settings.severity,
                tags=sorted(set(settings.tags)),
                sql=engine_sql,
                path=test.path,
            )
        )
    if missing:
        raise DependencyNotFoundError(missing)
    return checks
