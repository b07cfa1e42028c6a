"""Data-quality checks from project.yml, bound to the nodes whose tables they guard.

`table:` and `to:` take what users write — a node name (`customers.ff`), a relation
(`customers`), `ref('customers')` or `source('crm', 'users')` — and the plan stores the relation.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Mapping, Sequence
from difflib import get_close_matches
from typing import TYPE_CHECKING

from flowforge_compiler.check_types import CheckSpec, PlanCheck
from flowforge_compiler.engine_sdk import DEFAULT_DIALECT
from flowforge_compiler.errors import Location, ProjectFileError
from flowforge_compiler.plan import PlanNode, Relation
from flowforge_compiler.sources_file import SourceTable
from flowforge_compiler.sql_statements import boolean_filter
from flowforge_compiler.transpile import expression_to_engine

if TYPE_CHECKING:
    from flowforge_compiler.sql_models import SqlCompile

_CALL = re.compile(r"^\s*(?P<func>ref|source)\s*\((?P<args>.*)\)\s*$", re.DOTALL)


def bind_checks(
    specs: Sequence[CheckSpec],
    nodes: Sequence[PlanNode],
    sources: Mapping[tuple[str, str], SourceTable],
    lines: Sequence[int | None] = (),
    dialects: tuple[str, str] = (DEFAULT_DIALECT, DEFAULT_DIALECT),
    portable: SqlCompile | None = None,
) -> list[PlanCheck]:
    """One PlanCheck per entry of `tests:`, in file order, with a unique id; `lines` are the
    entries' lines in project.yml, for errors; `where:` filters are written in the project's
    dialect and stored in the engine's (`dialects`)."""
    by_name = {n.relation: n for n in nodes} | {n.id: n for n in nodes}
    checks: list[PlanCheck] = []
    used: dict[str, int] = {}
    for position, spec in enumerate(specs):
        where = Location("project.yml", lines[position] if position < len(lines) else None)
        (table, relation), node = _bind(spec.table, by_name, sources, f"tests[{position}].table", where)
        nodes_read = [node] if node else []
        check_type = PlanCheck.registry[spec.type]
        params = {k: v for k, v in spec.model_dump().items() if k not in CheckSpec.model_fields}
        for written, bound in check_type.binds.items():
            (params[written], params[bound]), other = _bind(params[written], by_name, sources, f"tests[{position}].{written}", where)
            if other and other not in nodes_read:
                nodes_read.append(other)
        filter_sql = None
        if spec.where is not None:
            what = f"tests[{position}].where"
            boolean_filter(spec.where, where, what=what, dialect=dialects[0])
            filter_sql = expression_to_engine(
                spec.where, dialects[0], dialects[1], where, what,
                portable.support if portable else None, portable.rules if portable else (),
            )
        base = spec.name or "_".join(str(p) for p in [spec.type, table, params.get("column")] if p)
        used[base] = used.get(base, 0) + 1
        check_id = base if used[base] == 1 else f"{base}_{used[base]}"
        checks.append(
            check_type(
                id=check_id,
                type=spec.type,
                table=table,
                relation=relation,
                node=node,
                nodes=nodes_read,
                severity=spec.severity,
                warn_if=spec.warn_if,
                error_if=spec.error_if,
                where=filter_sql,
                tags=sorted(set(spec.tags)),
                **params,
            )
        )
    return checks


def _bind(
    written: str, by_name: Mapping[str, PlanNode], sources: Mapping[tuple[str, str], SourceTable], key: str, where: Location
) -> tuple[tuple[str, Relation], str | None]:
    """((relation as shown, relation), node id or None for an external table) for what a check names."""
    call = _CALL.match(written)
    if call is not None:
        try:
            args = ast.literal_eval(f"({call.group('args')},)")
        except (ValueError, SyntaxError):
            args = ()
        if call.group("func") == "ref" and len(args) == 1 and isinstance(args[0], str):
            written = args[0]
        elif call.group("func") == "source" and len(args) == 2 and tuple(args) in sources:
            table = sources[tuple(args)]
            return _of_source(table, by_name)
        else:
            raise ProjectFileError(f"{key}: {written!r} is not a ref('name') or a declared source('source', 'table')", location=where)
        if written not in by_name:
            raise ProjectFileError(f"{key}: {written!r} is not a model or seed of this project", location=where, hint=_suggest(written, by_name, sources))
    if written in by_name:
        return _of_node(by_name[written])
    for table in sources.values():
        if written in (table.relation, table.identifier):
            return _of_source(table, by_name)
    raise ProjectFileError(
        f"{key}: {written!r} is neither built by a node nor declared in sources.yml",
        location=where,
        hint=_suggest(written, by_name, sources),
    )


def _of_node(node: PlanNode) -> tuple[tuple[str, Relation], str | None]:
    return (node.relation, Relation(name=node.relation)), node.id


def _of_source(table: SourceTable, by_name: Mapping[str, PlanNode]) -> tuple[tuple[str, Relation], str | None]:
    node = by_name.get(table.identifier)
    if node is not None:
        return _of_node(node)
    return (table.relation, Relation(schema_=table.schema, name=table.identifier)), None


def _suggest(written: str, by_name: Mapping[str, PlanNode], sources: Mapping[tuple[str, str], SourceTable]) -> str:
    known = sorted(by_name) + sorted({t.relation for t in sources.values()})
    close = get_close_matches(written, known, n=3)
    return f"did you mean {', '.join(map(repr, close))}?" if close else "declare external tables in sources.yml"
