"""Commands that only look at the compiled project: compile, ls, dag, plan-schema."""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from flowforge_compiler.cli.app import (
    EngineOpt,
    EnvOpt,
    ProjectArg,
    QuietOpt,
    SelectOpt,
    VarsOpt,
    VerboseOpt,
    app,
    compile_at,
    session,
)
from flowforge_compiler.graph import mermaid
from flowforge_compiler.plan import plan_json_schema
from flowforge_compiler.selection import select_nodes


class Target(str, Enum):
    local = "local"


@app.command()
def compile(
    project: ProjectArg = Path("."),
    target: Annotated[Target, typer.Option("--target", "-t", help="What to compile to.")] = Target.local,
    out: Annotated[Path | None, typer.Option("--out", help="Output folder (default: PROJECT/.flowforge).")] = None,
    env: EnvOpt = None,
    engine: EngineOpt = None,
    vars: VarsOpt = None,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = 0,
) -> None:
    """Compile the project into plan.json (the plan every target runs)."""
    console = session(quiet, verbose)
    compiled = compile_at(project, env, engine, vars)
    destination = (out or compiled.project.root / ".flowforge") / "plan.json"
    compiled.plan.write(destination)
    console.print(f"Compiled {len(compiled.plan.nodes)} nodes for profile {compiled.profile.name!r} -> {destination}")


@app.command("ls")
def list_nodes(
    project: ProjectArg = Path("."),
    env: EnvOpt = None,
    engine: EngineOpt = None,
    select: SelectOpt = None,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = 0,
) -> None:
    """List nodes with kind, materialization and dependencies, in build order."""
    console = session(quiet, verbose)
    compiled = compile_at(project, env, engine, None)
    nodes = compiled.plan.node_map()
    rows = [("NAME", "KIND", "MATERIALIZATION", "DEPENDS ON")]
    for node_id in select_nodes(compiled.plan, select):
        node = nodes[node_id]
        rows.append((node.id, node.kind, node.materialization, ", ".join(node.depends_on) or "-"))
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    for row in rows:
        console.result("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row[:3])) + "  " + row[3])


@app.command()
def dag(
    project: ProjectArg = Path("."),
    env: EnvOpt = None,
    engine: EngineOpt = None,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = 0,
) -> None:
    """Print the dependency graph as Mermaid text."""
    console = session(quiet, verbose)
    compiled = compile_at(project, env, engine, None)
    deps = {n.id: n.depends_on for n in compiled.plan.nodes}
    console.result(mermaid(deps, {n.id: n.kind for n in compiled.plan.nodes}).rstrip("\n"))


@app.command("plan-schema")
def plan_schema() -> None:
    """Print the JSON Schema of plan.json."""
    sys.stdout.write(plan_json_schema())
