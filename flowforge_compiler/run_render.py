"""A dbt model rendered at run time, in its task, with the warehouse: the one entry point the
runtime imports from the compiler for it, and only for a node the plan marks so
(`PlanNode.render_at_run_time`, a model whose template read the warehouse or the run while
compiling). It renders as dbt's execution renders: `execute` true, `run_query`, `statement`,
`adapter.get_relation`, `load_relation` and `adapter.get_columns_in_relation` answered by the
warehouse, `run_started_at` and `invocation_id` the run's own. Templates come from the plan's
folder (the project, or a bundle, which carries the model's file and the plan's `dbt` macro files);
dbt's macro library from the environment.

Such a node is never served from the cache (what it renders to depends on the warehouse at run
time), as a node that reads an external source is not.
"""

from __future__ import annotations

import datetime
import os
import threading
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flowforge_compiler.check_types import FailingRows, PlanCheck
from flowforge_compiler.dbt_jinja import renderer_settings
from flowforge_compiler.dbt_project import IGNORED_MODEL_CONFIG, KEPT_MODEL_CONFIG, GenericTest
from flowforge_compiler.drafts import NameIndex
from flowforge_compiler.dsl import ModelRenderer, RenderContext, Warehouse
from flowforge_compiler.errors import Location, TemplateError
from flowforge_compiler.paths import project_file
from flowforge_compiler.plan import Plan, PlanNode, ephemeral_ctes
from flowforge_compiler.profiles import Profile
from flowforge_compiler.singular_tests import IGNORED_TEST_CONFIG, SingularTestConfig, call_test
from flowforge_compiler.sources_file import SourceTable
from flowforge_compiler.sql_statements import inject_ctes, is_blank, rendered_test, strip_statement

# dbt's per-invocation values: one run of this process (each orchestrator task is its own).
RUN_STARTED_AT = datetime.datetime.now(datetime.UTC)
INVOCATION_ID = str(uuid.uuid4())
_renderers: dict[tuple[Path, str], tuple[Plan, ModelRenderer]] = {}  # the plan each was made for
_lock = threading.Lock()


def render_at_run_time(plan: Plan, node: PlanNode, root: Path, warehouse: Warehouse, profile: Profile) -> PlanNode:
    """`node` with its SQL rendered now (and its incremental SQL, for an incremental model); a
    template that fails is a TemplateError naming its file and line, which fails this node only."""
    renderer = _renderer(plan, root, profile)

    def render(incremental: bool) -> str:
        ctx = _context(
            plan, node.path, node.relation, warehouse, incremental=incremental, config_ignored=IGNORED_MODEL_CONFIG, config_kept=KEPT_MODEL_CONFIG,
            empty=plan.project.empty,
        )  # fmt: skip
        sql = strip_statement(renderer.render(node.path, ctx))
        if is_blank(sql):
            raise TemplateError("the model renders to no SQL", location=Location(node.path), hint="a model is one SELECT statement")
        return _with_ephemeral(plan, sql, node.depends_on)

    sql = render(incremental=False)
    incremental = render(incremental=True) if node.materialization.renders_incremental else None
    return node.model_copy(update={"sql": sql, "sql_incremental": incremental})


def render_check(plan: Plan, check: PlanCheck, root: Path, warehouse: Warehouse, profile: Profile) -> PlanCheck:
    """A dbt test (a FailingRows check) with its query rendered now: a singular test's file, or
    a generic test's macro called with the use's arguments, as compiling would have."""
    assert isinstance(check, FailingRows)
    renderer = _renderer(plan, root, profile)
    ctx = _context(plan, check.path, check.id, warehouse, config_model=SingularTestConfig, config_ignored=IGNORED_TEST_CONFIG)
    if check.call is None:
        rendered = renderer.render(check.path, ctx)
    else:
        use = GenericTest(check.call.test, check.call.table, check.call.column, check.call.args, check.severity, check.call.where, (), check.path)
        rendered = call_test(renderer, use, plan.project.dialect, ctx)
    sql = rendered_test(rendered, check.id, Location(check.path))
    return check.model_copy(update={"sql": _with_ephemeral(plan, sql, check.nodes), "render_at_run_time": None})


def _with_ephemeral(plan: Plan, sql: str, reads: list[str]) -> str:
    """The SQL with the ephemeral models it reads inlined as CTEs, as compiling inlines them."""
    ephemeral = ephemeral_ctes(plan.node_map(), reads, [n.id for n in plan.nodes])
    return inject_ctes(sql, ephemeral) if ephemeral else sql


def run_operation(plan: Plan, root: Path, warehouse: Warehouse, profile: Profile, macro: str, arguments: Mapping[str, Any]) -> str:
    """dbt's `run-operation`: call one of the project's macros (or a package's, `package.macro`)
    with `arguments`, as at run time: its `run_query` and `statement` blocks run on the warehouse.
    What it renders is returned (dbt logs only what the macro logs)."""
    renderer = _renderer(plan, root, profile)
    ctx = _context(plan, f"run-operation {macro}", macro, warehouse)
    return renderer.call_macro(macro, ctx, lambda: dict(arguments))


def _context(plan: Plan, display: str, relation: str, warehouse: Warehouse, *, incremental: bool = False, **settings: Any) -> RenderContext:
    """A render's context at run time: the plan's names, vars and sources, this process's
    environment, and the warehouse."""
    return RenderContext(
        display=display,
        relation=relation,
        resolve_ref=NameIndex([n.id for n in plan.nodes]).resolve,
        sources={(s.source, s.table): SourceTable(s.source, s.table, s.identifier, s.schema_) for s in plan.sources},
        vars=plan.project.vars,
        environ=dict(os.environ),
        incremental=incremental,
        package=plan.dbt.project if plan.dbt else None,
        warehouse=warehouse,
        **settings,
    )


def _renderer(plan: Plan, root: Path, profile: Profile) -> ModelRenderer:
    """One renderer per folder and profile in this process, for the plan it was made for: the
    project's macros load once a run (another plan, as a long-lived worker reads, gets its own)."""
    key = (root.resolve(), profile.name)
    with _lock:
        made = _renderers.get(key)
        if made is None or made[0] is not plan:
            made = _renderers[key] = (plan, _make_renderer(plan, root, profile))
        return made[1]


def _make_renderer(plan: Plan, root: Path, profile: Profile) -> ModelRenderer:
    settings = plan.dbt
    if settings is None:
        raise TemplateError("the plan has no dbt templates for a node that renders at run time", hint="compile the project again")
    wanted = {*settings.macros, *(f for files in settings.packages.values() for f in files), *run_time_files(plan)}
    templates = {rel: _read(root, rel) for rel in sorted(wanted)}
    run = (RUN_STARTED_AT, INVOCATION_ID)  # the run's own
    return ModelRenderer(templates, list(settings.macros), target=profile.target(), **renderer_settings(settings.project, settings.dispatch, settings.packages, profile, run))


def run_time_files(plan: Plan) -> set[str]:
    """The files of the models and singular tests that render at run time (a generic test's
    macro is among the plan's macro files)."""
    models = {n.path for n in plan.nodes if n.render_at_run_time}
    return models | {c.path for c in plan.checks if c.render_at_run_time and isinstance(c, FailingRows) and c.call is None}


def _read(root: Path, relative: str) -> str:
    path = root / project_file(root, root / relative, relative)
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise TemplateError(f"cannot read {relative}, which the model renders with at run time: {exc.strerror}", location=Location(relative)) from exc
