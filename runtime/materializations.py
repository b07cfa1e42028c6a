"""Materializations at run time: how a node's rows land in the warehouse, one small class each.

A node's new rows come from its SQL (the incremental variant when rows are applied to an
existing table) or from its Python function; a materialization decides what to do with them:
replace a table atomically, apply them to an incremental table, (re)create a view, nothing for
an ephemeral model (inlined into its readers), load a seed, or fold a stream's new events in.
Each class names the plan's config it builds (`flowforge_compiler.materializations`) and is
registered by defining it; the executor picks one by the node's config type, never by name.
Engines reach every one of them through the executor's primitives, so an engine module changes a
materialization by overriding a primitive (`swap_in`, `replace_view`, ...), not by branching here.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from flowforge_compiler.errors import Location, ModelBuildError, ProjectFileError
from flowforge_compiler.materializations import (
    EphemeralMaterialization,
    IncrementalMaterialization,
    MaterializationConfig,
    SeedMaterialization,
    StreamMaterialization,
    TableMaterialization,
    ViewMaterialization,
)
from flowforge_compiler.plan import Plan, PlanNode

if TYPE_CHECKING:
    from runtime.executors.base import Executor

Create = Callable[[str], "int | None"]  # creates the given (temporary) table holding the rows


def node_sql(node: PlanNode, *, incremental: bool = False) -> str:
    sql = node.sql_incremental if incremental else node.sql
    if sql is None:
        raise ModelBuildError(node.id, node.path, "plan", "the plan holds no SQL for this node; recompile it")
    return sql


def new_rows(ex: Executor, plan: Plan, node: PlanNode, root: Path, *, incremental: bool) -> Create:
    """How to create a table holding the node's new rows: from its SQL or its Python function
    (which is called now, with `is_incremental()` as given)."""
    if node.kind == "python":
        data = ex.python_rows(plan, node, root, incremental=incremental)
        return lambda tmp: ex.table_from_rows(tmp, data)
    sql = node_sql(node, incremental=incremental)
    return lambda tmp: ex.create_table_as(tmp, sql)


class Materialization:
    """Builds the nodes whose plan config is `config`; subclasses register themselves."""

    config: ClassVar[type[MaterializationConfig]]

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        MATERIALIZATIONS[cls.config] = cls()

    def build(self, ex: Executor, plan: Plan, node: PlanNode, root: Path, *, full_refresh: bool) -> int | None:
        """Build the node; the number of rows written, when known."""
        raise NotImplementedError


MATERIALIZATIONS: dict[type[MaterializationConfig], Materialization] = {}


def materialization_of(node: PlanNode) -> Materialization:
    """The runtime class for the node's config; a config without one says so."""
    found = MATERIALIZATIONS.get(type(node.materialization))
    if found is None:
        raise ModelBuildError(node.id, node.path, "plan", f"no runtime builds the materialization {node.materialization.type!r}")
    return found


class Table(Materialization):
    config = TableMaterialization

    def build(self, ex: Executor, plan: Plan, node: PlanNode, root: Path, *, full_refresh: bool) -> int | None:
        return ex.replace_table(node.relation, new_rows(ex, plan, node, root, incremental=False))


class Incremental(Materialization):
    """The first run and --full-refresh build the whole table; later runs apply the new rows."""

    config = IncrementalMaterialization

    def build(self, ex: Executor, plan: Plan, node: PlanNode, root: Path, *, full_refresh: bool) -> int | None:
        assert isinstance(node.materialization, IncrementalMaterialization)
        applies = not full_refresh and ex.relation_kind(node.relation) == "table"
        create = new_rows(ex, plan, node, root, incremental=applies)
        return ex.apply_incremental(node, node.materialization, create) if applies else ex.replace_table(node.relation, create)


class View(Materialization):
    config = ViewMaterialization

    def build(self, ex: Executor, plan: Plan, node: PlanNode, root: Path, *, full_refresh: bool) -> int | None:
        ex.replace_view(node.relation, node_sql(node))
        return None


class Ephemeral(Materialization):
    """Inlined into its readers as a CTE at compile time: nothing to build."""

    config = EphemeralMaterialization

    def build(self, ex: Executor, plan: Plan, node: PlanNode, root: Path, *, full_refresh: bool) -> int | None:
        return None


class Seed(Materialization):
    """A seed file as a table: a SQL seed's query, or the file's rows read to Arrow (only an
    empty field is NULL), typed in the warehouse when seeds/schema.yml gives column types."""

    config = SeedMaterialization

    def build(self, ex: Executor, plan: Plan, node: PlanNode, root: Path, *, full_refresh: bool) -> int | None:
        from runtime.seeds import read_seed

        assert node.seed is not None
        if node.seed.format == "sql":
            return ex.replace_table(node.relation, lambda tmp: ex.create_table_as(tmp, node_sql(node)))
        data = read_seed(node, root)
        types = node.seed.column_types
        unknown = sorted(set(types) - set(data.column_names))
        if unknown:
            raise ProjectFileError(
                f"seeds/schema.yml types columns the seed does not have: {', '.join(unknown)}",
                location=Location(node.seed.path),
                hint=f"columns: {', '.join(data.column_names)}",
            )
        if not types:
            return ex.replace_table(node.relation, lambda tmp: ex.table_from_arrow(tmp, data))
        staging = node.relation + "__ff_seed"

        def create(tmp: str) -> int | None:
            ex.execute(ex.statements.drop("table", staging, if_exists=True))
            ex.create_table_from_arrow(staging, data)
            try:
                return ex.create_table_as(tmp, ex.statements.typed_copy(staging, data.column_names, types))
            finally:
                ex.drop_quietly(staging)

        return ex.replace_table(node.relation, create)


class Stream(Materialization):
    """Whatever is new in the stream's files, folded into its sessions (runtime/streaming);
    the rows reported are the events read."""

    config = StreamMaterialization

    def build(self, ex: Executor, plan: Plan, node: PlanNode, root: Path, *, full_refresh: bool) -> int | None:
        from runtime.streaming import run_stream

        return run_stream(ex, node, root, full_refresh=full_refresh).events
