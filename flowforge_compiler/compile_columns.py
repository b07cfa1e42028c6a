"""The column names of a project's relations while it compiles, for dbt's
`adapter.get_columns_in_relation` (which dbt_utils' `star`, `union_relations` and `equality`
call): a seed's come from its file's header, a SQL model's from its SQL, qualified with sqlglot
against its parents' columns, so `select *` expands. A model not drafted yet is drafted first.

Only names are known: their types are the engine's, after a build. A Python model's columns,
and a source's, are known only to the warehouse; asking for them stops the compile.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from flowforge_compiler.authoring import relation_for
from flowforge_compiler.drafts import NodeDraft
from flowforge_compiler.dsl import DslError, RelationName
from flowforge_compiler.seeds_file import SeedFile

_HINT = "name the columns in the SQL instead"


class _Cycle(DslError):
    """A model whose columns need its own."""


class ColumnCatalog:
    def __init__(self, root: Path, seeds: list[SeedFile], models: set[str], dialect: str):
        self._root, self._seeds, self._models, self._dialect = root, {s.name: s for s in seeds}, models, dialect
        self._known: dict[str, list[str]] = {}
        self._busy: list[str] = []
        self._draft: Callable[[str], NodeDraft] | None = None

    def bind(self, draft: Callable[[str], NodeDraft]) -> None:
        """How to draft a SQL model (memoized by the compile), given once the compile has it."""
        self._draft = draft

    def of(self, relation: RelationName) -> list[str]:
        if relation.source is not None:
            raise DslError(f"the columns of the source table {relation.source.relation!r} are known only to the warehouse", hint=_HINT)
        if relation.node is None:
            raise DslError(f"{str(relation)!r} names no model or seed of the project")
        return self._node(relation.node)

    def _node(self, node: str) -> list[str]:
        if node in self._known:
            return self._known[node]
        from flowforge_compiler.lineage import column_lineage, seed_columns  # sqlglot's optimizer: only when asked

        if node in self._busy:
            raise _Cycle(f"the columns of {node!r} depend on themselves ({' -> '.join([*self._busy, node])})")
        seed = self._seeds.get(node)
        if seed is not None and seed.format != "sql":
            columns = seed_columns(self._root / seed.path, seed.format)
        elif node in self._models and self._draft is not None:
            self._busy.append(node)
            try:
                draft = self._draft(node)
                lineage = column_lineage(draft.sql or "", self._dialect, self._parents(draft)) if draft.sql else None
            finally:
                self._busy.pop()
            if lineage is None:
                raise DslError(f"the columns of {node!r} cannot be worked out from its SQL (it reads a table whose columns are not known)", hint=_HINT)
            columns = [c.name for c in lineage]
        else:
            raise DslError(f"the columns of {node!r} are known only once it runs (a Python model or SQL seed)", hint=_HINT)
        self._known[node] = columns
        return columns

    def _parents(self, draft: NodeDraft) -> dict[str, list[str]]:
        """The columns of the parents that can be known; a star over another fails qualifying."""
        known: dict[str, list[str]] = {}
        for parent in draft.depends_on:
            try:
                known[relation_for(parent)] = self._node(parent)
            except _Cycle:
                raise
            except DslError:
                continue
        return known
