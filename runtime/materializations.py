"""Materializations: how a node's rows land in the warehouse, one small class each, in one registry.

A node's new rows come from its SQL (the incremental variant when rows are applied to an
existing table) or from its Python function; a materialization decides what to do with them:
replace a table atomically, apply them to an incremental table, (re)create a view, nothing for
an ephemeral model (inlined into its readers), load a seed, or fold a stream's new events in. Engines reach every one of them
through the executor's primitives, so an engine module changes a materialization by overriding
a primitive (`swap_in`, `replace_view`, ...), not by branching here.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from flowforge_compiler.errors import ModelBuildError
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
    name: ClassVar[str]

    def build(self, ex: Executor, plan: Plan, node: PlanNode, root: Path, *, full_refresh: bool) -> int | None:
        """Build the node; the number of rows written, when known."""
        raise NotImplementedError


class Table(Materialization):
    name = "table"

    def build(self, ex: Executor, plan: Plan, node: PlanNode, root: Path, *, full_refresh: bool) -> int | None:
        return ex.replace_table(node.relation, new_rows(ex, plan, node, root, incremental=False))


class Incremental(Materialization):
    """The first run and --full-refresh build the whole table; later runs apply the new rows."""

    name = "incremental"

    def build(self, ex: Executor, plan: Plan, node: PlanNode, root: Path, *, full_refresh: bool) -> int | None:
        applies = not full_refresh and ex.relation_kind(node.relation) == "table"
        create = new_rows(ex, plan, node, root, incremental=applies)
        return ex.apply_incremental(node, create) if applies else ex.replace_table(node.relation, create)


class View(Materialization):
    name = "view"

    def build(self, ex: Executor, plan: Plan, node: PlanNode, root: Path, *, full_refresh: bool) -> int | None:
        ex.replace_view(node.relation, node_sql(node))
        return None


class Ephemeral(Materialization):
    """Inlined into its readers as a CTE at compile time: nothing to build."""

    name = "ephemeral"

    def build(self, ex: Executor, plan: Plan, node: PlanNode, root: Path, *, full_refresh: bool) -> int | None:
        return None


class Seed(Materialization):
    name = "seed"

    def build(self, ex: Executor, plan: Plan, node: PlanNode, root: Path, *, full_refresh: bool) -> int | None:
        return ex.load_seed(node, root)


class Stream(Materialization):
    """Whatever is new in the stream's files, folded into its sessions (runtime/streaming);
    the rows reported are the events read."""

    name = "stream"

    def build(self, ex: Executor, plan: Plan, node: PlanNode, root: Path, *, full_refresh: bool) -> int | None:
        from runtime.streaming import run_stream

        return run_stream(ex, node, root, full_refresh=full_refresh).events


MATERIALIZATIONS: dict[str, Materialization] = {m.name: m for m in (Table(), Incremental(), View(), Ephemeral(), Seed(), Stream())}
