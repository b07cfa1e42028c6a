"""Column-level lineage: each output column of a SQL model and the upstream columns it derives from.

Models are qualified with sqlglot against the columns already known upstream (seeds' headers,
earlier models' lineage), so `select *` expands; each projection's columns are then followed
through CTEs, sub-queries and set operations (by position) to the tables they read. A model whose
SQL cannot be qualified gets no lineage (None) rather than a failed compile.
"""

from __future__ import annotations

import csv
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any, cast

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError
from sqlglot.optimizer.qualify import qualify
from sqlglot.optimizer.scope import Scope, build_scope

from flowforge_compiler.plan import ColumnSource, PlanColumn, PlanNode, built_parents

log = logging.getLogger("flowforge")

Schema = Mapping[str, list[str]]  # relation -> its columns


def column_lineage(sql: str, dialect: str, known: Schema) -> list[PlanColumn] | None:
    """The model's output columns with their sources, or None when they cannot be worked out."""
    try:
        tree = sqlglot.parse_one(sql, read=dialect)
        schema = _nested(known)
        qualified = qualify(tree, schema=schema, dialect=dialect, validate_qualify_columns=False, identify=False, quote_identifiers=False)
        root = build_scope(qualified)
    except (SqlglotError, ValueError, KeyError, TypeError):
        log.debug("no lineage for a model", exc_info=True)
        return None
    if root is None:
        return None
    first = _branches(root)[0]
    columns: list[PlanColumn] = []
    for position, projection in enumerate(_selects(first)):
        if isinstance(projection, exp.Star):
            return None  # a star that could not be expanded (an upstream Python model, an external table)
        sources = sorted(_from_projection(root, position))
        columns.append(PlanColumn(name=projection.alias_or_name, sources=[ColumnSource(relation=r, column=c) for r, c in sources]))
    return columns


def _nested(known: Schema) -> dict[str, object]:
    """sqlglot's schema shape: {table: {column: type}} (known relations are nodes' names, in the
    profile's schema, so a name with dots stays one name)."""
    out: dict[str, object] = {}
    for relation, columns in known.items():
        parts = [relation]
        level = out
        for part in parts[:-1]:
            level = level.setdefault(part, {})  # type: ignore[assignment]
        level[parts[-1]] = dict.fromkeys(columns, "unknown")
    return _even_depth(out)


def _even_depth(schema: dict[str, object]) -> dict[str, object]:
    """sqlglot wants every table at the same depth: when some relation is schema-qualified, the
    unqualified ones go under `main`."""
    depths = {_depth(v) for v in schema.values()}
    if len(depths) <= 1:
        return schema
    flat = {k: v for k, v in schema.items() if _depth(v) == 1}
    nested: dict[str, Any] = {k: v for k, v in schema.items() if _depth(v) > 1}
    nested.setdefault("main", {}).update(flat)
    return nested


def _depth(value: object) -> int:
    if isinstance(value, dict) and value and all(isinstance(v, dict) for v in value.values()):
        return 1 + max(_depth(v) for v in value.values())
    return 0


def _branches(scope: Scope) -> list[Scope]:
    """The scopes whose projections make a query's output: both sides of a UNION, say."""
    if scope.set_operation_scopes:
        return [b for s in scope.set_operation_scopes for b in _branches(s)]
    return [scope]


def _selects(scope: Scope) -> list[exp.Expr]:
    """The projections of a scope's query (a SELECT or a set operation)."""
    return cast(exp.Query, scope.expression).selects


def _from_projection(scope: Scope, position: int) -> set[tuple[str, str]]:
    out: set[tuple[str, str]] = set()
    for branch in _branches(scope):
        selects = _selects(branch)
        if position < len(selects):
            for column in selects[position].find_all(exp.Column):
                out |= _sources(branch, column)
    return out


def _sources(scope: Scope, column: exp.Column) -> set[tuple[str, str]]:
    source: exp.Table | Scope | None
    if not column.table and len(scope.sources) == 1:  # unqualified, and only one place it can be from
        source = next(iter(scope.sources.values()))
    else:
        source = scope.sources.get(column.table)
    if isinstance(source, exp.Table):
        relation = ".".join(p.name for p in (source.args.get("db"), source.this) if p is not None)
        return {(relation, column.name)}
    if isinstance(source, Scope):
        names = [s.alias_or_name for s in _selects(_branches(source)[0])]
        if column.name in names:
            return _from_projection(source, names.index(column.name))
    return set()


def with_lineage(nodes: list[PlanNode], root: Path, dialect: str) -> list[PlanNode]:
    """The nodes (in plan order) with lineage for their SQL; seeds' columns come from their
    files' headers, so models reading seeds expand `select *`."""
    known: dict[str, list[str]] = {}
    by_id = {n.id: n for n in nodes}
    out: list[PlanNode] = []
    for node in nodes:
        columns = None
        if node.kind == "seed" and node.seed is not None and node.seed.format != "sql":
            known[node.relation] = seed_columns(root / node.seed.path, node.seed.format)
            node = node.model_copy(update={"columns": [PlanColumn(name=c) for c in known[node.relation]]})
        elif node.sql is not None and node.builds_relation:
            # only the relations this model reads: the whole schema would make the compile quadratic
            read = {by_id[p].relation for p in built_parents(by_id, node.id)}  # an ephemeral parent's SQL is a CTE here
            reads = {r: known[r] for r in read if r in known}
            columns = column_lineage(node.sql, dialect, reads)
            if columns is not None:
                known[node.relation] = [c.name for c in columns]
            node = node.model_copy(update={"columns": columns})
        out.append(node)
    return out


def seed_columns(path: Path, fmt: str) -> list[str]:
    if fmt == "parquet":
        import pyarrow.parquet as pq

        return list(pq.read_schema(path).names)
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return next(csv.reader(handle), [])


# -- queries over a plan with lineage --------------------------------------------------------

ColumnKey = tuple[str, str]  # (relation, column)


def upstream(nodes: list[PlanNode], key: ColumnKey) -> list[ColumnKey]:
    """Every column `key` derives from, transitively (nearest first)."""
    by_key = {(n.relation, c.name): c for n in nodes for c in (n.columns or [])}
    out: list[ColumnKey] = []
    pending = [key]
    while pending:
        current = by_key.get(pending.pop(0))
        for source in current.sources if current else []:
            found = (source.relation, source.column)
            if found not in out:
                out.append(found)
                pending.append(found)
    return out


def downstream(nodes: list[PlanNode], key: ColumnKey) -> tuple[list[ColumnKey], list[str]]:
    """The columns that derive from `key`, transitively, and the models whose columns are not
    known (Python models) that read its relation or a relation derived from it."""
    readers: dict[ColumnKey, list[ColumnKey]] = {}
    for node in nodes:
        for col in node.columns or []:
            for source in col.sources:
                readers.setdefault((source.relation, source.column), []).append((node.relation, col.name))
    columns: list[ColumnKey] = []
    pending = [key]
    while pending:
        for found in readers.get(pending.pop(0), []):
            if found not in columns:
                columns.append(found)
                pending.append(found)
    relations = {key[0], *(r for r, _ in columns)}
    relation_of = {n.id: n.relation for n in nodes}
    opaque = [n.id for n in nodes if n.columns is None and n.kind == "python" and relations & {relation_of[d] for d in n.depends_on}]
    return columns, opaque
