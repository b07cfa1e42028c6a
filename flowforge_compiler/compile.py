"""project -> plan: render, resolve, order, fingerprint. Read top to bottom in `compile_project`."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from flowforge_compiler import __version__
from flowforge_compiler.authoring import relation_for
from flowforge_compiler.checks import bind_checks
from flowforge_compiler.code_identity import code_identity, engine_modules
from flowforge_compiler.compile_columns import ColumnCatalog
from flowforge_compiler.dbt_project import REF_TEXT, SOURCE_TEXT
from flowforge_compiler.drafts import (
    Missing,
    NameIndex,
    NodeDraft,
    collect_missing,
    model_config,
    node_materialization,
)
from flowforge_compiler.dsl import ModelRenderer
from flowforge_compiler.errors import DependencyNotFoundError, Location, ProjectFileError
from flowforge_compiler.fingerprints import EnvContext, file_digest, node_fingerprint
from flowforge_compiler.graph import levels, topo_sort
from flowforge_compiler.materializations import MaterializationConfig, SeedMaterialization, StreamMaterialization
from flowforge_compiler.paths import reading_folder
from flowforge_compiler.plan import (
    STREAM_TABLE_COLUMNS,
    DbtTemplates,
    Plan,
    PlanExposure,
    PlanNode,
    PlanProfile,
    PlanProject,
    PlanSource,
    PythonEntry,
    SeedEntry,
    StreamEntry,
    StreamSourceEntry,
)
from flowforge_compiler.profiles import Profile, fingerprinted_environment
from flowforge_compiler.project import Project
from flowforge_compiler.project_file import StreamConfig
from flowforge_compiler.python_models import PythonModelDecl
from flowforge_compiler.seeds_file import SeedFile
from flowforge_compiler.singular_tests import generic_checks, singular_checks
from flowforge_compiler.sources_file import normalised_sources
from flowforge_compiler.sql_cache import SqlCache
from flowforge_compiler.sql_models import SqlCompile, analysed, sql_draft
from flowforge_compiler.sql_statements import (
    inject_ctes,
    is_blank,
    normalize_for_fingerprint,
    strip_statement,
)
from flowforge_compiler.transpile import engine_type, parsing


@parsing()  # DuckDB's parser stays open for the compile, and no longer
def compile_project(
    project: Project,
    profile: Profile,
    *,
    vars: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
    strict: bool = False,
    lineage: bool = False,
    cache: SqlCache | None = None,
    empty: bool = False,
) -> Plan:
    """Compile a loaded project for one profile into a deterministic plan; with `strict`, a
    model that reads a table nothing declares is an error (else a warning); with `lineage`,
    SQL models carry their column-level lineage (about 0.3 ms a model, so only when asked);
    with `empty` (dbt's --empty), every model's ref() and source() read no row."""
    environ = dict(os.environ) if environ is None else dict(environ)
    project_vars = {**project.config.vars, **(vars or {})}
    index = NameIndex(project.node_names())
    missing: Missing = {}

    if project.dbt:  # dbt runs a project's SQL on its target as written
        project = replace(project, config=project.config.model_copy(update={"dialect": profile.dialect}))
    package_macros = {rel: text for package in project.packages for rel, text in package.macros.items()}
    templates = {**project.macros, **package_macros, **{m.path: m.text for m in (*project.sql_models, *project.singular_tests)}}
    renderer = ModelRenderer(templates, list(project.macros), target=profile.target(), **_dbt_jinja(project, profile))
    columns = ColumnCatalog(project.root, project.seeds, {m.name for m in project.sql_models}, profile.dialect)
    run = SqlCompile(
        project,
        renderer,
        index,
        project_vars,
        environ,
        profile.dialect,
        strict,
        rules=profile.spec.rewrites,
        cache=cache,
        code=code_identity(engine_modules(profile.spec)),
        columns=columns,
        empty=empty,
    )
    drafts: dict[str, NodeDraft] = {}
    by_name = {m.name: m for m in project.sql_models}

    def draft_of(name: str) -> NodeDraft:  # a model whose columns another reads is drafted first
        if name not in drafts:
            try:
                drafts[name] = sql_draft(by_name[name], run, missing)
            except RecursionError:  # sqlglot parses and rewrites recursively
                raise ProjectFileError(
                    "the model's SQL is nested too deeply to read (thousands of levels of parentheses, "
                    "subqueries or expressions)",
                    location=Location(by_name[name].path),
                    hint="write the expression flatter, e.g. with CTEs",
                ) from None
        return drafts[name]

    columns.bind(draft_of)
    for sql_model in project.sql_models:
        draft_of(sql_model.name)
    drafts = {m.name: drafts[m.name] for m in project.sql_models}  # in the project's order, whatever was drafted first
    disabled = {name for name, draft in drafts.items() if draft.disabled}
    if disabled:  # dbt models whose own config() disables them: left out, with their tests, as dbt leaves them
        drafts = {name: draft for name, draft in drafts.items() if not draft.disabled}
        _check_none_reads(drafts, disabled)
        project = _without_tests_of(project, disabled)
    for py_model in project.python_models:
        drafts[py_model.name] = _python_draft(py_model, project, index, missing)
    for seed in project.seeds:
        drafts[seed.name] = _seed_draft(seed, run)
    for position, stream in enumerate(project.config.streams):
        drafts[stream.into] = _stream_draft(stream, position, profile, project)
    if missing:
        raise DependencyNotFoundError(missing)
    _check_buildable(drafts, profile)

    deps = {node_id: draft.depends_on for node_id, draft in drafts.items()}
    order = topo_sort(deps)
    _inline_ephemerals(drafts, order)
    env = EnvContext(
        profile.engine,
        profile.name,
        fingerprinted_environment(environ),
        normalised_sources(project.sources),
        profile.location(project.root),
    )
    nodes = _fingerprinted(drafts, order, env)
    if lineage:
        from flowforge_compiler.lineage import with_lineage  # sqlglot's optimizer: only when asked

        nodes = with_lineage(nodes, project.root, profile.dialect)
    checks = bind_checks(
        project.config.tests, nodes, project.sources, project.test_lines, (project.config.dialect, profile.dialect), run
    )
    taken = {c.id for c in checks}
    checks += singular_checks(project.singular_tests, run, nodes, taken)
    checks += generic_checks(project.generic_tests, run, nodes, taken)
    return Plan(
        flowforge_version=__version__,
        project=PlanProject(
            name=project.config.name,
            version=project.config.version,
            vars=project_vars,
            schedule=project.config.schedule,
            dialect=project.config.dialect,
            on_failure="descendants" if project.dbt else "stop",
            empty=empty,
            targets=project.config.target_blocks(),
        ),
        profile=PlanProfile(
            name=profile.name,
            engine=profile.engine,
            dialect=profile.dialect,
            single_writer=profile.spec.capabilities.single_writer,
        ),
        nodes=nodes,
        levels=levels(deps),
        checks=checks,
        dbt=_dbt_templates(project) if project.dbt else None,
        exposures=_exposures(project, index, {n.id for n in nodes}),
        support_sql=sorted(run.support),
        sources=[
            PlanSource(
                source=s.source,
                table=s.table,
                identifier=s.identifier,
                schema_=s.schema,
                node=index.resolve(s.identifier),
                description=s.description,
                source_description=s.source_description,
            )
            for s in sorted(project.sources.values())
        ],
    )


def _check_none_reads(drafts: Mapping[str, NodeDraft], disabled: set[str]) -> None:
    for draft in drafts.values():
        reads = sorted(set(draft.depends_on) & disabled)
        if reads:
            raise ProjectFileError(
                f"{draft.id!r} reads {reads[0]!r}, which its own config(enabled=...) disables",
                location=Location(draft.path),
                hint="enable the model, or disable its readers too (as dbt requires)",
            )


def _without_tests_of(project: Project, disabled: set[str]) -> Project:
    """The project without the tests of models left out (a singular test that reads one is
    left out when it is compiled)."""
    tests = [t for t in project.config.tests if t.table not in disabled]
    config = project.config.model_copy(update={"tests": tests})
    lines = tuple(line for t, line in zip(project.config.tests, project.test_lines, strict=True) if t.table not in disabled)
    generic = [use for use in project.generic_tests if use.table not in disabled]
    return replace(project, config=config, test_lines=lines, generic_tests=generic)


def _exposures(project: Project, index: NameIndex, built: set[str]) -> list[PlanExposure]:
    """dbt's exposures with what they read bound to nodes (a ref) and sources; one that names
    neither is an error naming its schema file, as dbt's parse refuses it (a metric() is skipped)."""
    out: list[PlanExposure] = []
    for written in project.exposures:
        where = Location(str(written["path"]))
        nodes: list[str] = []
        sources: list[str] = []
        for item in written.get("depends_on") or []:
            ref, source = REF_TEXT.match(str(item)), SOURCE_TEXT.match(str(item))
            node = index.resolve(ref.group(1)) if ref else None
            if ref and node in built:
                nodes.append(node)
            elif source and (source.group(1), source.group(2)) in project.sources:
                table = project.sources[(source.group(1), source.group(2))]
                seeded = index.resolve(table.identifier)
                nodes.extend([seeded] if seeded else [])
                sources.append(f"{table.source}.{table.table}")
            elif not str(item).lstrip().startswith(("metric(", "semantic_model(")):
                raise ProjectFileError(f"the exposure {written['name']!r} depends on {item!r}, which names no model, seed or source", location=where)
        owner: dict[str, Any] = written["owner"] if isinstance(written.get("owner"), dict) else {}
        out.append(
            PlanExposure(
                name=str(written["name"]), type=str(written["type"]), label=_text(written.get("label")), description=_text(written.get("description")),
                url=_text(written.get("url")), maturity=_text(written.get("maturity")), owner={k: str(v) for k, v in owner.items() if v is not None},
                depends_on=list(dict.fromkeys(nodes)), sources=sources, path=str(written["path"]),
            )  # fmt: skip
        )
    return sorted(out, key=lambda e: e.name)


def _text(value: Any) -> str | None:
    return None if value is None else str(value).strip()


def _dbt_templates(project: Project) -> DbtTemplates:
    return DbtTemplates(
        project=project.config.name,
        macros=sorted(project.macros),
        packages={package.name: sorted(package.macros) for package in project.packages},
        dispatch=project.dispatch,
    )


def _dbt_jinja(project: Project, profile: Profile) -> dict[str, Any]:
    """The renderer's settings for a dbt project's templates: dbt's names and `return()`."""
    if not project.dbt:
        return {}
    from flowforge_compiler.dbt_jinja import renderer_settings

    packages = {package.name: list(package.macros) for package in project.packages}
    return renderer_settings(project.config.name, project.dispatch, packages, profile)


def _check_buildable(drafts: dict[str, NodeDraft], profile: Profile) -> None:
    """A relation the engine's catalog cannot name, or a materialization its capabilities cannot
    build, stops the compile, at the model's file; so do two relations the engine's catalog
    would take for one (`Users2` and `users2` where names fold case)."""
    folded: dict[str, NodeDraft] = {}
    for draft in drafts.values():
        if draft.materialization.builds_relation and profile.spec.capabilities.names_fold_case:
            other = folded.setdefault(relation_for(draft.id).lower(), draft)
            if other is not draft:
                raise ProjectFileError(
                    f"{other.id!r} and {draft.id!r} would build one relation on the {profile.engine} engine, "
                    f"whose names do not tell {relation_for(other.id)!r} from {relation_for(draft.id)!r}",
                    location=Location(draft.path),
                    hint="rename one of them",
                )
    for draft in drafts.values():
        unbuildable = draft.materialization.engine_problem(profile.spec.capabilities)
        if unbuildable:
            raise ProjectFileError(
                f"{draft.id!r} cannot be built on the {profile.engine} engine: {unbuildable}",
                location=Location(draft.path),
                hint="choose what the engine has in config(), or build it on another engine",
            )
        relation = relation_for(draft.id)
        problem = profile.spec.relation_name_problem(relation) if draft.materialization.builds_relation else None
        if problem:
            raise ProjectFileError(
                f"{draft.id!r} would build the relation {relation!r}, which the {profile.engine} engine cannot name: {problem}",
                location=Location(draft.path),
                hint="rename the file (or @model name) so its relation fits",
            )


def _python_draft(
    decl: PythonModelDecl,
    project: Project,
    index: NameIndex,
    missing: Missing,
) -> NodeDraft:
    resolved = {dep: index.resolve(dep) for dep in decl.deps}
    collect_missing(decl.name, [d for d, r in resolved.items() if r is None], index, missing)
    dep_ids = [r for r in resolved.values() if r]
    settings = model_config(project, decl.name)
    where = Location(decl.path, decl.line)
    materialization = node_materialization(settings, decl.path)
    if decl.name in dep_ids:
        raise ProjectFileError(
            f"@model {decl.name!r} lists itself in deps",
            location=where,
            hint="a Python model cannot read its own table; remove it from deps",
        )
    _check_signature(decl, len(set(dep_ids)), where)
    if not materialization.allows_python:
        allowed = " or ".join(name for name, config in sorted(MaterializationConfig.registry.items()) if config.allows_python)
        raise ProjectFileError(
            f"Python model {decl.name!r} cannot be materialized as {materialization.type!r}",
            location=where,
            hint=f"Python models build tables (materialized: {allowed})",
        )
    return NodeDraft(
        id=decl.name,
        kind="python",
        path=decl.path,
        materialization=materialization,
        depends_on=sorted(set(dep_ids)),
        tags=sorted(set(settings.tags or [])),
        description=settings.description,
        column_descriptions=dict(settings.columns or {}),

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


def _seed_draft(seed: SeedFile, run: SqlCompile) -> NodeDraft:
    data = (run.project.root / seed.path).read_bytes()
    sql = None
    if seed.format == "sql":
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ProjectFileError("the SQL seed is not UTF-8 text", location=Location(seed.path)) from exc
        sql = strip_statement(text)
        if is_blank(sql):
            raise ProjectFileError("the SQL seed is empty", location=Location(seed.path), hint="a SQL seed is one SELECT")
        sql = analysed(sql, run.project.config.dialect, run, Location(seed.path), what="the SQL seed")
    column_types = seed.settings.column_types
    if run.project.dbt and seed.format == "csv":  # dbt types the columns a seed has, ignoring the rest (a folder's types)
        header = set(_seed_header(run.project.root / seed.path))
        column_types = {c: t for c, t in column_types.items() if c in header}
    return NodeDraft(
        id=seed.name,
        kind="seed",
        path=seed.path,
        materialization=SeedMaterialization(),
        depends_on=[],
        tags=sorted(set(seed.settings.tags)),
        description=seed.settings.description,
        column_descriptions=dict(seed.settings.columns),
        sql=sql,
        seed=SeedEntry(
            path=seed.path,
            format=seed.format,
            column_types={c: engine_type(t, run.project.config.dialect, run.engine_dialect) for c, t in column_types.items()},
            null_values=sorted(seed.settings.null_values),
            convention="dbt" if run.project.dbt else "flowforge",
        ),
        payload={
            "content": file_digest(data),
            "column_types": dict(sorted(column_types.items())),
            "null_values": sorted(seed.settings.null_values),
            **({"convention": "dbt"} if run.project.dbt else {}),  # FlowForge's seeds keep their fingerprints
        },
    )


def _seed_header(path: Path) -> list[str]:
    """A CSV seed's column names (none for a file that is not UTF-8: loading it says so)."""
    from flowforge_compiler.lineage import seed_columns  # sqlglot's optimizer comes with it: only when needed

    try:
        return seed_columns(path, "csv")
    except UnicodeDecodeError:
        return []


STREAM_COLUMNS = {name: text for name, _, text in STREAM_TABLE_COLUMNS}  # described for the docs


def _stream_draft(stream: StreamConfig, position: int, profile: Profile, project: Project) -> NodeDraft:
    """A stream is a node named after its table; its rows and checkpoints commit together, so
    the engine must have transactions. Its files lie in the project unless the profile allows
    a folder outside it."""
    where = Location("project.yml")
    if not profile.spec.capabilities.transactions:
        raise ProjectFileError(
            f"streams[{position}] {stream.name!r}: the {profile.engine} engine has no transactions, and a stream commits its "
            "sessions and its file offsets in one, so that a crash never loses or doubles an event",
            location=where,
            hint="run streams on DuckDB or PostgreSQL",
        )
    source = StreamSourceEntry.model_validate(stream.source.model_dump())
    if source.path is not None:
        within = reading_folder(source.path, project.root, profile.allow_outside)
        if within is None:
            line = project.stream_lines[position] if position < len(project.stream_lines) else None
            raise ProjectFileError(
                f"streams[{position}] {stream.name!r} reads {source.path!r}, which leaves the project folder",
                location=Location("project.yml", line),
                hint="move the files into the project, or allow their folder: `allow_outside: [FOLDER]` in the profile "
                "(profiles.yml) or --allow-outside FOLDER",
            )
        source = source.model_copy(update={"within": within})
    entry = StreamEntry(name=stream.name, source=source, **stream.sessionize.model_dump())
    return NodeDraft(
        id=stream.into,
        kind="stream",
        path="project.yml",
        materialization=StreamMaterialization(),
        depends_on=[],
        tags=sorted(set(stream.tags)),
        description=stream.description,
        column_descriptions=STREAM_COLUMNS,
        stream=entry,
        payload={"stream": entry.model_dump(exclude={"source": {"within"}})},  # allowing a folder rebuilds nothing
    )


def _inline_ephemerals(drafts: dict[str, NodeDraft], order: list[str]) -> None:
    """Ephemeral models have no relation: their SQL becomes a CTE, named as their relation,
    in every model that reads them (through chains of ephemerals too)."""
    raw = {n: d.sql for n, d in drafts.items()}
    chains: dict[str, list[str]] = {}
    for node_id in order:
        chain: list[str] = []
        for dep in drafts[node_id].depends_on:
            if not drafts[dep].materialization.builds_relation:
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
            "materialization": d.materialization.model_dump(),
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
                kind=d.kind,
                relation=relation_for(d.id),
                materialization=d.materialization,
                depends_on=d.depends_on,
                source_relations=d.source_relations,
                tags=d.tags,
                path=d.path,
                description=d.description,
                config=d.config,
                sql=d.sql,
                sql_incremental=d.sql_incremental,
                sql_written=d.sql_written,
                python=d.python,
                seed=d.seed,
                stream=d.stream,
                vars_read=d.vars_read,
                env_read=d.env_read,
                fingerprint=fingerprints[node_id],
                render_at_run_time=d.render_at_run_time,
                column_descriptions=d.column_descriptions,
            )
        )
    return nodes
