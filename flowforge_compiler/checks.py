"""Data-quality checks from project.yml, bound to the nodes whose tables they guard."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from difflib import get_close_matches

from flowforge_compiler.errors import Location, ProjectFileError
from flowforge_compiler.plan import PlanCheck, PlanNode
from flowforge_compiler.project_file import CheckSpec, RelationshipsCheck
from flowforge_compiler.sources_file import SourceTable

_COMMON = {"type", "table", "tags", "severity", "where", "name"}


def bind_checks(
    specs: Sequence[CheckSpec], nodes: Sequence[PlanNode], sources: Mapping[tuple[str, str], SourceTable]
) -> list[PlanCheck]:
    """One PlanCheck per entry of `tests:`, in file order, with a unique id."""
    by_relation = {n.relation: n.id for n in nodes}
    by_relation.update({n.id: n.id for n in nodes})
    external = {s.relation for s in sources.values()} | {s.identifier for s in sources.values()}
    checks: list[PlanCheck] = []
    used: dict[str, int] = {}
    for position, spec in enumerate(specs):
        node = _guarded_node(spec.table, by_relation, external, position)
        nodes_read = [node] if node else []
        if isinstance(spec, RelationshipsCheck):
            other = _guarded_node(spec.to, by_relation, external, position)
            if other and other not in nodes_read:
                nodes_read.append(other)
        params = {k: v for k, v in spec.model_dump().items() if k not in _COMMON}
        base = spec.name or "_".join(str(p) for p in [spec.type, spec.table, params.get("column")] if p)
        used[base] = used.get(base, 0) + 1
        check_id = base if used[base] == 1 else f"{base}_{used[base]}"
        checks.append(
            PlanCheck(
                id=check_id,
                type=spec.type,
                table=spec.table,
                node=node,
                nodes=nodes_read,
                params=params,
                severity=spec.severity,
                where=spec.where,
                tags=sorted(set(spec.tags)),
            )
        )
    return checks


def _guarded_node(table: str, by_relation: Mapping[str, str], external: set[str], position: int) -> str | None:
    if table in by_relation:
        return by_relation[table]
    if table in external:
        return None
    close = get_close_matches(table, sorted(by_relation) + sorted(external), n=3)
    raise ProjectFileError(
        f"tests[{position}]: table {table!r} is neither built by a node nor declared in sources.yml",
        location=Location("project.yml"),
        hint=f"did you mean {', '.join(map(repr, close))}?" if close else "declare external tables in sources.yml",
    )
