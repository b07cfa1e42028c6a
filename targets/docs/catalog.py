"""What the docs site shows, worked out from the plan alone: one entry per node and per source,
with its page, its neighbours in the graph, its checks and its columns."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from flowforge_compiler.graph import stable_id
from flowforge_compiler.plan import Plan, PlanCheck, PlanExposure, PlanNode, PlanSource

EntryKind = Literal["sql", "python", "seed", "stream", "source", "exposure"]
BASE_CHECK_FIELDS = frozenset(PlanCheck.model_fields) | {"schema"}


@dataclass(frozen=True)
class BuildStatus:
    """A node's last build as `_ff_meta` records it: `current` when its fingerprint is the plan's,
    `stale` when the node changed since, `never` when no build is recorded."""

    state: Literal["current", "stale", "never"]
    built_at: float | None = None  # seconds since the epoch


@dataclass(frozen=True)
class CheckLine:
    id: str
    type: str
    column: str | None
    parameters: dict[str, Any]
    severity: str
    tags: list[str]
    where: str | None


@dataclass(frozen=True)
class ColumnLine:
    name: str
    description: str | None
    sources: list[tuple[str, str, str | None]]  # (relation, column, page of the relation or None)


_LABELS = {"strategy": "Incremental strategy"}


@dataclass
class Entry:
    """A node or a source, as a vertex of the graph and a page of the site."""

    key: str  # short DOM id, "n<position>"
    name: str  # the node id, or `source.table`
    kind: EntryKind
    materialization: str | None  # its type, for people; None for a source
    relation: str
    page: str  # relative to the site's root
    tags: list[str]
    description: str | None
    parents: list[str] = field(default_factory=list)  # names of entries
    children: list[str] = field(default_factory=list)
    read_by: list[str] = field(default_factory=list)  # a source's readers, drawn as edges or not
    checks: list[CheckLine] = field(default_factory=list)
    columns: list[ColumnLine] = field(default_factory=list)
    node: PlanNode | None = None
    source: PlanSource | None = None
    exposure: PlanExposure | None = None
    status: BuildStatus | None = None

    @property
    def builds_relation(self) -> bool:
        """A node with a relation in the warehouse, so a last build to show (not a source, not ephemeral)."""
        return self.node is not None and self.node.builds_relation

    @property
    def materialization_settings(self) -> list[tuple[str, str]]:
        """The settings of the node's materialization, as (label, value) for its page: an
        incremental model's strategy and unique key, and whatever a new config carries."""
        if self.node is None:
            return []
        settings = self.node.materialization.model_dump(exclude={"type"})
        shown = [(key, ", ".join(map(str, value)) if isinstance(value, list) else str(value)) for key, value in settings.items()]
        return [(_LABELS.get(key, key.replace("_", " ").capitalize()), value) for key, value in shown if value not in ("", "None")]

    @property
    def search_text(self) -> str:
        """What the text filter matches: name, relation, tags and description, lower case."""
        return " ".join([self.name, self.relation, *self.tags, self.description or ""]).lower()


@dataclass(frozen=True)
class Catalog:
    entries: dict[str, Entry]  # by name, nodes in plan order, then sources
    tags: list[str]
    kinds: list[str]


def source_name(source: PlanSource) -> str:
    return f"{source.source}.{source.table}"


def build_catalog(plan: Plan, status: Mapping[str, BuildStatus] | None = None) -> Catalog:
    """Sources that name a node (a seed read through source()) are that node's entry; the
    others are vertices of their own, drawn before the models that read them."""
    entries: dict[str, Entry] = {}
    pages = _PageNames()
    for node in plan.nodes:
        entries[node.id] = Entry(
            key=f"n{len(entries)}",
            name=node.id,
            kind=node.kind,
            materialization=node.materialization.type,
            relation=node.relation,
            page=pages.name("nodes", node.id),
            tags=list(node.tags),
            description=node.description,
            parents=list(dict.fromkeys(node.depends_on)),
            node=node,
            status=(status or {}).get(node.id),
        )
    by_relation = {s.relation: source_name(s) for s in plan.sources if s.node is None}
    for source in plan.sources:
        name = source_name(source)
        entries[name] = Entry(
            key=f"n{len(entries)}",
            name=name,
            kind="source",
            materialization=None,
            relation=source.relation,
            page=pages.name("sources", name),
            tags=[],
            description=source.description or source.source_description,
            source=source,
        )
    for exposure in plan.exposures:  # what reads the project, drawn after the models it reads
        name = f"exposure.{exposure.name}"
        read = [*exposure.depends_on, *(s for s in exposure.sources if s in entries and s not in exposure.depends_on)]
        entries[name] = Entry(
            key=f"n{len(entries)}", name=name, kind="exposure", materialization=None, relation=exposure.label or exposure.name,
            page=pages.name("exposures", name), tags=[], description=exposure.description, parents=read, exposure=exposure,
        )  # fmt: skip
    all_sources = {s.relation: source_name(s) for s in plan.sources}
    for node in plan.nodes:
        for relation in node.source_relations:
            if relation in all_sources:
                entries[all_sources[relation]].read_by.append(node.id)
        external = [by_relation[r] for r in node.source_relations if r in by_relation]
        entries[node.id].parents = list(dict.fromkeys([*external, *entries[node.id].parents]))
    for entry in entries.values():
        for parent in entry.parents:
            entries[parent].children.append(entry.name)
    _attach_checks(plan, entries, by_relation)
    _attach_columns(entries)
    tags = sorted({t for e in entries.values() for t in e.tags})
    kinds = [k for k in ("sql", "python", "seed", "stream", "source", "exposure") if any(e.kind == k for e in entries.values())]
    return Catalog(entries, tags, kinds)


def graph_entries(catalog: Catalog) -> list[Entry]:
    """The vertices of the graph: every node, and the sources that are not nodes."""
    return [e for e in catalog.entries.values() if e.kind != "source" or e.source is None or e.source.node is None]


def _attach_checks(plan: Plan, entries: dict[str, Entry], source_by_relation: Mapping[str, str]) -> None:
    for check in plan.checks:
        owner = check.node if check.node is not None else source_by_relation.get(check.table)
        if owner is None or owner not in entries:
            continue
        data = check.model_dump(by_alias=True)
        entries[owner].checks.append(
            CheckLine(
                id=check.id,
                type=check.type,
                column=data.get("column"),
                parameters={k: v for k, v in data.items() if k not in BASE_CHECK_FIELDS and k not in ("column", "to_relation")},
                severity=check.severity,
                tags=list(check.tags),
                where=check.where,
            )
        )


def _attach_columns(entries: dict[str, Entry]) -> None:
    """Columns from the lineage (when the plan carries it) and the described ones, in that order."""
    page_of: dict[str, str] = {}
    for entry in entries.values():  # nodes come first: a source naming a node's relation links to the node
        page_of.setdefault(entry.relation, entry.page)
    for entry in entries.values():
        node = entry.node
        if node is None:
            continue
        described = dict(node.column_descriptions)
        lines = [
            ColumnLine(c.name, described.pop(c.name, None), [(s.relation, s.column, page_of.get(s.relation)) for s in c.sources])
            for c in node.columns or []
        ]
        lines += [ColumnLine(name, text, []) for name, text in described.items()]
        entry.columns = lines


class _PageNames:
    """`folder/<stable id>.html`, readable and collision-free whatever the names hold."""

    def __init__(self) -> None:
        self._taken: set[str] = set()

    def name(self, folder: str, name: str) -> str:
        page = f"{folder}/{stable_id(name)}.html"
        if page in self._taken:  # two names with one slug and one short hash: use the whole hash
            page = f"{folder}/n_{hashlib.sha1(name.encode()).hexdigest()}.html"
        self._taken.add(page)
        return page
