"""project -> plan: render, resolve, order, fingerprint. Read top to bottom in `compile_project`."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from difflib import get_close_matches
from pathlib import Path
from typing import Any

from flowforge_compiler import __version__
from flowforge_compiler.authoring import relation_for
from flowforge_compiler.checks import bind_checks
from flowforge_compiler.dsl import ModelRenderer, RenderContext
from flowforge_compiler.errors import DependencyNotFoundError, Location, ProjectFileError, TemplateError
from flowforge_compiler.fingerprints import EnvContext, file_digest, node_fingerprint
from flowforge_compiler.graph import levels, topo_sort
from flowforge_compiler.plan import (
    NodeConfig,
    Plan,
    PlanNode,
    PlanProfile,
    PlanProject,
    PlanSource,
    PythonEntry,
    SeedEntry,
)
from flowforge_compiler.profiles import Profile, ff_environment
from flowforge_compiler.project import Project, SqlModelFile
from flowforge_compiler.project_file import ModelConfig
from flowforge_compiler.python_models import PythonModelDecl
from flowforge_compiler.seeds_file import SeedFile
from flowforge_compiler.sources_file import normalised_sources
from flowforge_compiler.sql_statements import (
    inject_ctes,
    is_blank,
    normalize_for_fingerprint,
    parse_spec_era_ddl,
    single_statement,
    strip_statement,
)

DEFAULT_MATERIALIZATION = "table"


@dataclass
class NodeDraft:
    """A node while it is being compiled; becomes a `PlanNode` once it has a fingerprint."""

    id: str
    kind: str
    path: str
    materialization: str
    depends_on: list[str]
    tags: list[str]
    source_relations: list[str] = field(default_factory=list)
    description: str | None = None
    config: NodeConfig = field(default_factory=NodeConfig)
    sql: str | None = None
    sql_incremental: str | None = None
    python: PythonEntry | None = None
    seed: SeedEntry | None = None
    vars_read: dict[str, Any] = field(default_factory=dict)
    payload: dict[str, Any] = field(default_factory=dict)


class NameIndex:
    """Resolves what users write in ref()/deps (logical or relation names) to node ids."""

    def __init__(self, node_ids: list[str]):
        self.ids = set(node_ids)
        self.by_relation = {relation_for(n): n for n in node_ids}

    def resolve(self, name: str) -> str | None:
        if name in self.ids:
            return name
        return self.by_relation.get(name)

    def suggestions(self, name: str) -> list[str]:
        return get_close_matches(name, sorted(self.ids | set(self.by_relation)), n=3, cutoff=0.6)


def compile_project(
    project: Project,
    profile: Profile,
    *,
    vars: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Plan:
    """Compile a loaded project for one profile into a deterministic plan."""
    environ = dict(os.environ) if environ is None else dict(environ)
    project_vars = {**project.config.vars, **(vars or {})}
    index = NameIndex(project.node_names())
    missing: dict[str, list[tuple[str, list[str]]]] = {}

    renderer = ModelRenderer({**project.macros, **{m.path: m.text for m in project.sql_models}}, list(project.macros))
    drafts: dict[str, NodeDraft] = {}
    for sql_model in project.sql_models:
        drafts[sql_model.name] = _sql_draft(sql_model, project, renderer, index, project_vars, environ, missing)
    for py_model in project.python_models:
        drafts[py_model.name] = _python_draft(py_model, project, index, missing)
    for seed in project.seeds:
        drafts[seed.name] = _seed_draft(seed, project.root)
    if missing:
        raise DependencyNotFoundError(missing)

    deps = {node_id: draft.depends_on for node_id, draft in drafts.items()}
    order = topo_sort(deps)
    _inline_ephemerals(drafts, order)
    env = EnvContext(
        profile.engine,
        profile.name,
        ff_environment(environ),
        normalised_sources(project.sources),
        profile.location(project.root),
    )
    nodes = _fingerprinted(drafts, order, env)
    return Plan(
        flowforge_version=__version__,
        project=PlanProject(
            name=project.config.name,
            version=project.config.version,
            vars=project_vars,
            schedule=project.config.schedule,
        ),
        profile=PlanProfile(name=profile.name, engine=profile.engine),
        nodes=nodes,
        levels=levels(deps),
        checks=bind_checks(project.config.tests, nodes, project.sources, project.test_lines),
        sources=[
            PlanSource(
                source=s.source,
                table=s.table,
                identifier=s.identifier,
                schema=s.schema,
                node=index.resolve(s.identifier),
            )
            for s in sorted(project.sources.values())
        ],
    )


def _model_config(project: Project, name: str) -> ModelConfig:
    models = project.config.models
    return models.get(name) or models.get(relation_for(name)) or ModelConfig()


def _sql_draft(
    sql_model: SqlModelFile,
    project: Project,
    renderer: ModelRenderer,
    index: NameIndex,
    project_vars: Mapping[str, Any],
    environ: Mapping[str, str],
    missing: dict[str, list[tuple[str, list[str]]]],
) -> NodeDraft:
    def render(incremental: bool) -> tuple[str, RenderContext]:
        ctx = RenderContext(
            display=sql_model.path,
            relation=relation_for(sql_model.name),
            resolve_ref=index.resolve,
            sources=project.sources,
            vars=project_vars,
            environ=environ,
            incremental=incremental,
        )
        rendered = strip_statement(renderer.render(sql_model.path, ctx))
        return single_statement(rendered, Location(sql_model.path)), ctx

    sql, full = render(incremental=False)
    settings = _merged_config(_model_config(project, sql_model.name), full.config)
    materialization = settings.materialized
    ddl = parse_spec_era_ddl(sql)
    if ddl is not None:
        if ddl.relation.lower() != relation_for(sql_model.name).lower():
            raise ProjectFileError(
                f"the file creates {ddl.relation!r} but its model builds {relation_for(sql_model.name)!r}",
                location=Location(sql_model.path),
                hint="a model's relation is its file name without .ff.sql; rename the file or the relation",
            )
        if full.config.get("materialized") not in (None, ddl.kind):
            raise ProjectFileError(
                f"config(materialized={full.config['materialized']!r}) contradicts `create {ddl.kind}`",
                location=Location(sql_model.path),
                hint="write only a SELECT and set the materialization with config()",
            )
        sql, materialization = ddl.select, full.config.get("materialized") or ddl.kind
    single_statement(sql, Location(sql_model.path), query=True)
    materialization = materialization or DEFAULT_MATERIALIZATION
    if is_blank(sql):
        raise TemplateError("the model renders to no SQL", location=Location(sql_model.path), hint="a model is one SELECT statement")

    refs = list(full.refs)
    sql_incremental = None
    if materialization == "incremental":
        sql_incremental, incremental = render(incremental=True)
        if ddl is None:
            single_statement(sql_incremental, Location(sql_model.path), what="the model (with is_incremental())", query=True)
        refs += incremental.refs
        full.vars_read.update(incremental.vars_read)
        full.missing.extend(incremental.missing)
    _collect_missing(sql_model.name, full.missing, index, missing)
    if sql_model.name in refs:
        raise ProjectFileError(
            f"{sql_model.name!r} refers to itself with ref()",
            location=Location(sql_model.path),
            hint="a model reads its own relation with {{ this }} (in an incremental model, inside is_incremental())",
        )
    seeded_sources = {index.resolve(t.identifier) for t in full.source_tables}  # a source may name a seed
    depends_on = (set(refs) | seeded_sources) - {None, sql_model.name}
    return NodeDraft(
        id=sql_model.name,
        kind="sql",
        path=sql_model.path,
        materialization=materialization,
        depends_on=sorted(d for d in depends_on if d),
        source_relations=sorted({t.relation for t in full.source_tables}),
        tags=sorted(set(settings.tags or [])),
        description=settings.description,
        config=_node_config(settings, sql_model.path),
        sql=sql,
        sql_incremental=sql_incremental,
        vars_read=dict(sorted(full.vars_read.items())),
    )


def _merged_config(project_level: ModelConfig, in_file: Mapping[str, Any]) -> ModelConfig:
    """config() in the file wins over project.yml; tags add up, as in dbt."""
    merged = {**project_level.model_dump(exclude_none=True), **in_file}
    merged["tags"] = sorted(set(project_level.tags or []) | set(in_file.get("tags") or []))
    return ModelConfig.model_validate(merged)


def _node_config(settings: ModelConfig, path: str) -> NodeConfig:
    unique_key = [settings.unique_key] if isinstance(settings.unique_key, str) else list(settings.unique_key or [])
    strategy = settings.incremental_strategy
    if settings.materialized == "incremental":
        strategy = strategy or ("merge" if unique_key else "append")
        if strategy != "append" and not unique_key:
            raise ProjectFileError(
                f"incremental_strategy={strategy!r} needs a unique_key",
                location=Location(path),
                hint="add unique_key='id' to config(), or use incremental_strategy='append'",
            )
    return NodeConfig(unique_key=unique_key, incremental_strategy=strategy)


def _collect_missing(
    node: str, names: list[str], index: NameIndex, missing: dict[str, list[tuple[str, list[str]]]]
) -> None:
    for name in dict.fromkeys(names):
        missing.setdefault(node, []).append((name, index.suggestions(name)))


def _python_draft(
    decl: PythonModelDecl,
    project: Project,
    index: NameIndex,
    missing: dict[str, list[tuple[str, list[str]]]],
) -> NodeDraft:
    resolved = {dep: index.resolve(dep) for dep in decl.deps}
    _collect_missing(decl.name, [d for d, r in resolved.items() if r is None], index, missing)
    dep_ids = [r for r in resolved.values() if r]
    settings = _model_config(project, decl.name)
    materialization = settings.materialized or DEFAULT_MATERIALIZATION
    where = Location(decl.path, decl.line)
    if decl.name in dep_ids:
        raise ProjectFileError(
            f"@model {decl.name!r} lists itself in deps",
            location=where,
            hint="a Python model cannot read its own table; remove it from deps",
        )
    _check_signature(decl, len(set(dep_ids)), where)
    if materialization not in ("table", "incremental"):
        raise ProjectFileError(
            f"Python model {decl.name!r} cannot be materialized as {materialization!r}",
            location=where,
            hint="Python models build tables (materialized: table or incremental)",
        )
    return NodeDraft(
        id=decl.name,
        kind="python",
        path=decl.path,
        materialization=materialization,
        depends_on=sorted(set(dep_ids)),
        tags=sorted(set(settings.tags or [])),
        description=settings.description,
        config=_node_config(settings, decl.path),
        python=PythonEntry(
            path=decl.path,
            function=decl.function,
            requires=_requires_by_relation(decl, resolved, where),
            modules=list(decl.modules),
        ),
        payload={"source": decl.normalized_source},
    )


def _check_signature(decl: PythonModelDecl, dependencies: int, where: Location) -> None:
    """The call convention gives no argument, one frame, or one dict of frames: the function
    must accept exactly that."""
    wanted = 0 if dependencies == 0 else 1
    least, most = decl.parameters
    if least <= wanted and (most is None or wanted <= most):
        return
    if dependencies == 0:
        expected, gets = f"def {decl.function}()", "no argument, since it has no deps"
    elif dependencies == 1:
        expected, gets = f"def {decl.function}(df)", "one DataFrame, that of its only dependency"
    else:
        expected, gets = f"def {decl.function}(inputs)", f"one dict of {dependencies} DataFrames keyed by relation"
    raise ProjectFileError(
        f"@model {decl.name!r}: the function's signature does not fit its deps: it gets {gets}",
        location=where,
        hint=f"expected signature: {expected}",
    )


def _requires_by_relation(
    decl: PythonModelDecl, resolved: Mapping[str, str | None], where: Location
) -> dict[str, list[str]]:
    """`requires` keyed by each dependency's relation, whatever name the author used."""
    if isinstance(decl.requires, list):
        if not decl.requires:
            return {}
        if len(decl.deps) != 1:
            raise ProjectFileError(
                f"@model {decl.name!r}: a plain list of required columns needs exactly one dependency",
                location=where,
                hint="with several deps, map each dependency to its columns: requires={'users': {'id'}}",
            )
        node = resolved[decl.deps[0]]
        return {relation_for(node): decl.requires} if node else {}
    out: dict[str, list[str]] = {}
    dep_relations = {relation_for(r) for r in resolved.values() if r}
    for key, columns in decl.requires.items():
        relation = relation_for(key)
        if relation not in dep_relations:
            raise ProjectFileError(
                f"@model {decl.name!r}: requires names {key!r}, which is not one of its deps",
                location=where,
                hint=f"deps are: {', '.join(decl.deps) or 'none'}",
            )
        out[relation] = columns
    return dict(sorted(out.items()))


def _seed_draft(seed: SeedFile, root: Path) -> NodeDraft:
    data = (root / seed.path).read_bytes()
    sql = None
    if seed.format == "sql":
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ProjectFileError("the SQL seed is not UTF-8 text", location=Location(seed.path)) from exc
        sql = single_statement(strip_statement(text), Location(seed.path), what="the SQL seed", query=True)
        if is_blank(sql):
            raise ProjectFileError("the SQL seed is empty", location=Location(seed.path), hint="a SQL seed is one SELECT")
    return NodeDraft(
        id=seed.name,
        kind="seed",
        path=seed.path,
        materialization="seed",
        depends_on=[],
        tags=sorted(set(seed.settings.tags)),
        description=seed.settings.description,
        sql=sql,
        seed=SeedEntry(
            path=seed.path,
            format=seed.format,
            column_types=dict(seed.settings.column_types),
            null_values=sorted(seed.settings.null_values),
        ),
        payload={
            "content": file_digest(data),
            "column_types": dict(sorted(seed.settings.column_types.items())),
            "null_values": sorted(seed.settings.null_values),
        },
    )


def _inline_ephemerals(drafts: dict[str, NodeDraft], order: list[str]) -> None:
    """Ephemeral models have no relation: their SQL becomes a CTE, named as their relation,
    in every model that reads them (through chains of ephemerals too)."""
    raw = {n: d.sql for n, d in drafts.items()}
    chains: dict[str, list[str]] = {}
    for node_id in order:
        chain: list[str] = []
        for dep in drafts[node_id].depends_on:
            if drafts[dep].materialization == "ephemeral":
                chain.extend(c for c in [*chains[dep], dep] if c not in chain)
        chains[node_id] = sorted(chain, key=order.index)
        draft = drafts[node_id]
        ctes = [(relation_for(e), raw[e] or "") for e in chains[node_id]]
        if ctes and draft.sql is not None and draft.kind == "sql":
            draft.sql = inject_ctes(draft.sql, ctes)
            if draft.sql_incremental is not None:
                draft.sql_incremental = inject_ctes(draft.sql_incremental, ctes)


def _fingerprinted(drafts: dict[str, NodeDraft], order: list[str], env: EnvContext) -> list[PlanNode]:
    fingerprints: dict[str, str] = {}
    nodes: list[PlanNode] = []
    for node_id in order:
        d = drafts[node_id]
        payload = {
            "id": d.id,
            "kind": d.kind,
            "materialization": d.materialization,
            "config": d.config.model_dump(),
            "sql": normalize_for_fingerprint(d.sql) if d.sql else None,
            "sql_incremental": normalize_for_fingerprint(d.sql_incremental) if d.sql_incremental else None,
            "requires": d.python.requires if d.python else None,
            "vars_read": d.vars_read,
            **d.payload,
        }
        fingerprints[node_id] = node_fingerprint(payload, env, {p: fingerprints[p] for p in d.depends_on})
        nodes.append(
            PlanNode(
                id=d.id,
                kind=d.kind,  # type: ignore[arg-type]
                relation=relation_for(d.id),
                materialization=d.materialization,  # type: ignore[arg-type]
                depends_on=d.depends_on,
                source_relations=d.source_relations,
                tags=d.tags,
                path=d.path,
                description=d.description,
                config=d.config,
                sql=d.sql,
                sql_incremental=d.sql_incremental,
                python=d.python,
                seed=d.seed,
                vars_read=d.vars_read,
                fingerprint=fingerprints[node_id],
            )
        )
    return nodes
