"""Commands that only look at the compiled project: ls, show, lineage, dag, plan-schema."""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from flowforge.cli.app import (
    EngineOpt,
    EnvOpt,
    LockTimeoutOpt,
    ProfilesDirOpt,
    ProjectArg,
    QuietOpt,
    SelectOpt,
    StrictOpt,
    VerboseOpt,
    app,
    compile_at,
    session,
)
from flowforge.cli.console import aligned, render_rows
from flowforge_compiler.errors import SelectionError


@app.command("ls")
def list_nodes(
    project: ProjectArg = Path("."),
    env: EnvOpt = None,
    profiles_dir: ProfilesDirOpt = None,
    engine: EngineOpt = None,
    select: SelectOpt = None,
    strict: StrictOpt = False,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = 0,
) -> None:
    """List nodes with kind, materialization and dependencies, in build order."""
    from flowforge_compiler.selection import select_nodes

    console = session(quiet, verbose)
    compiled = compile_at(project, env, engine, None, strict=strict, profiles_dir=profiles_dir)
    nodes = compiled.plan.node_map()
    rows = [("NAME", "KIND", "MATERIALIZATION", "DEPENDS ON")]
    for node_id in select_nodes(compiled.plan, select):
        node = nodes[node_id]
        rows.append((node.id, node.kind, node.materialization.type, ", ".join(node.depends_on) or "-"))
    console.result(aligned(rows))


class ShowFormat(str, Enum):
    table = "table"
    csv = "csv"
    json = "json"


@app.command()
def show(
    project: ProjectArg,
    node: Annotated[str, typer.Argument(help="The node (users.ff or users) whose rows to show.")],
    limit: Annotated[int, typer.Option("--limit", "-n", min=0, help="How many rows.")] = 10,
    output: Annotated[ShowFormat, typer.Option("--format", help="table, csv or json.")] = ShowFormat.table,
    env: EnvOpt = None,
    profiles_dir: ProfilesDirOpt = None,
    engine: EngineOpt = None,
    lock_timeout: LockTimeoutOpt = 60.0,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = 0,
) -> None:
    """Show a node's rows, read through the engine's executor (as dbt's `show`)."""
    from flowforge_compiler.selection import find_node
    from runtime import open_executor

    console = session(quiet, verbose)
    compiled = compile_at(project, env, engine, None, profiles_dir=profiles_dir)
    found = find_node(compiled.plan, node)
    with open_executor(compiled.profile, lock_timeout=lock_timeout) as executor:
        if found.builds_relation and executor.relation_kind(found.relation) is None:
            raise SelectionError(
                f"{found.id!r} has not been built on profile {compiled.profile.name!r}",
                hint=f"build it first: ffc run {project} --select {found.id}",
            )
        try:
            rows = executor.read_node(found, limit=limit)
        except Exception as exc:  # noqa: BLE001 - the engine refused the read (a view whose table changed shape)
            raise SelectionError(
                f"{found.id!r} cannot be read on profile {compiled.profile.name!r}: {type(exc).__name__}: {str(exc).strip().splitlines()[0]}",
                hint=f"build it again: ffc run {project} --select {found.id}+ (a view reads its parents as they are now)",
            ) from exc
        console.result(render_rows(rows, output.value))


@app.command()
def lineage(
    project: ProjectArg,
    column: Annotated[
        str | None, typer.Argument(help="NODE.COLUMN (users.email or users.ff.email): where it comes from and what uses it.")
    ] = None,
    env: EnvOpt = None,
    profiles_dir: ProfilesDirOpt = None,
    engine: EngineOpt = None,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = 0,
) -> None:
    """Column-level lineage: every model column's sources, or one column's upstream and downstream."""
    from flowforge_compiler.lineage import downstream, upstream
    from flowforge_compiler.selection import find_node

    console = session(quiet, verbose)
    plan = compile_at(project, env, engine, None, lineage=True, profiles_dir=profiles_dir).plan
    if column is None:
        for node in (n for n in plan.nodes if n.kind != "seed"):
            for col in node.columns or []:
                sources = ", ".join(f"{s.relation}.{s.column}" for s in col.sources) or "-"
                console.result(f"{node.relation}.{col.name} <- {sources}")
        return
    node_name, _, column_name = column.rpartition(".")
    if not node_name:
        raise SelectionError(f"{column!r} is not NODE.COLUMN", hint="e.g. ffc lineage PROJECT users.email")
    node = find_node(plan, node_name)
    if node.columns is None or column_name not in [c.name for c in node.columns]:
        known = ", ".join(c.name for c in node.columns or []) or "unknown (a Python model, or a star over unknown columns)"
        raise SelectionError(f"{node.id!r} has no column {column_name!r} in its lineage", hint=f"its columns: {known}")
    key = (node.relation, column_name)
    columns, opaque = downstream(plan.nodes, key)
    console.result(f"{node.relation}.{column_name}")
    console.result("  from: " + (", ".join(f"{r}.{c}" for r, c in upstream(plan.nodes, key)) or "-"))
    console.result("  into: " + (", ".join(f"{r}.{c}" for r, c in columns) or "-"))
    if opaque:
        console.result("  read by Python models (columns not known): " + ", ".join(opaque))


@app.command()
def dag(
    project: ProjectArg = Path("."),
    env: EnvOpt = None,
    profiles_dir: ProfilesDirOpt = None,
    engine: EngineOpt = None,
    html: Annotated[bool, typer.Option("--html", help="Write the HTML docs site to docs.dag_dir instead (as ffc docs).")] = False,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = 0,
) -> None:
    """Print the dependency graph as Mermaid text, or write the HTML site with --html."""
    from flowforge_compiler.graph import mermaid

    console = session(quiet, verbose)
    compiled = compile_at(project, env, engine, None, lineage=html, profiles_dir=profiles_dir)
    if html:
        from flowforge.cli.docs_commands import write_docs

        write_docs(compiled, None, status=True, console=console)
        return
    deps = {n.id: n.depends_on for n in compiled.plan.nodes}
    console.result(mermaid(deps, {n.id: n.kind for n in compiled.plan.nodes}).rstrip("\n"))


@app.command("plan-schema")
def plan_schema() -> None:
    """Print the JSON Schema of plan.json."""
    from flowforge_compiler.plan import plan_json_schema

    sys.stdout.write(plan_json_schema())


@app.command()
def clean(
    project: ProjectArg = Path("."),
    quiet: QuietOpt = False,
    verbose: VerboseOpt = 0,
) -> None:
    """Delete what runs leave in the project: .flowforge/ (caches) and a dbt project's clean-targets, as dbt clean does."""
    import shutil

    from flowforge_compiler.dbt_project import clean_targets, read_dbt_project
    from flowforge_compiler.errors import ProjectFileError
    from flowforge_compiler.paths import is_dbt_project, project_root

    console = session(quiet, verbose)
    root = project_root(project)
    targets = [".flowforge", *(clean_targets(read_dbt_project(root, warn=False)[0]) if is_dbt_project(root) else [])]
    for target in targets:  # all checked before anything is removed
        path = (root / target).resolve()
        if path == root or not path.is_relative_to(root):  # as dbt: only what lies inside the project
            raise ProjectFileError(f"clean-targets names {target!r}, which is not inside the project", hint="name folders inside the project")
    for target in dict.fromkeys(targets):
        path = (root / target).resolve()
        if path.is_dir() and not (root / target).is_symlink():
            shutil.rmtree(path)
            console.print(f"removed {target}/")
        elif path.exists() or (root / target).is_symlink():
            (root / target).unlink()
            console.print(f"removed {target}")


@app.command()
def debug(
    project: ProjectArg = Path("."),
    env: EnvOpt = None,
    profiles_dir: ProfilesDirOpt = None,
    engine: EngineOpt = None,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = 0,
) -> None:
    """Check the setup, as dbt debug does: the project, the profile and its engine, dbt's macro
    library (a dbt project), and a query on the warehouse; exit 1 when one of them fails."""
    from flowforge_compiler import __version__
    from flowforge_compiler.dbt_library import INSTALL_HINT, macro_library
    from flowforge_compiler.errors import FlowForgeError
    from flowforge_compiler.paths import is_dbt_project, project_root
    from flowforge_compiler.profiles import resolve_profile
    from runtime import open_executor

    console = session(quiet, verbose)
    rows: list[tuple[str, str, str]] = [("CHECK", "RESULT", "DETAIL"), ("flowforge", "ok", __version__)]
    failed = False
    root = project_root(project)
    dbt = is_dbt_project(root)
    rows.append(("project", "ok", f"{root.name}/ ({'dbt_project.yml' if dbt else 'project.yml'})"))
    try:
        profile = resolve_profile(root, env, engine=engine, profiles_dir=profiles_dir)
        where = ", ".join(f"{k}={v}" for k, v in sorted(profile.location(root).items()))
        rows.append(("profile", "ok", f"{profile.name}: {profile.engine}" + (f" ({where})" if where else "")))
    except FlowForgeError as exc:
        rows.append(("profile", "FAILED", exc.render()))
        console.result(aligned(rows))
        raise typer.Exit(1) from None
    if dbt:
        library = macro_library(profile.spec.dbt_types or (profile.engine,))
        rows.append(("dbt macros", "ok", ", ".join(library.packages)) if library else ("dbt macros", "missing", INSTALL_HINT))
        failed |= library is None
    try:
        with open_executor(profile) as executor:
            executor.scalar("select 1")
        rows.append(("connection", "ok", f"a query ran on {profile.engine}"))
    except Exception as exc:  # noqa: BLE001 - any failure to connect is the report
        rows.append(("connection", "FAILED", f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"))
        failed = True
    console.result(aligned(rows))
    if failed:
        raise typer.Exit(1)
