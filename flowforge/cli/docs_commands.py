"""`ffc docs` (and `ffc dag --html`): the static HTML site, optionally served on localhost."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from flowforge.cli.app import Compiled, EngineOpt, EnvOpt, ProfilesDirOpt, ProjectArg, QuietOpt, VerboseOpt, app, compile_at, session
from flowforge.cli.console import Console
from flowforge_compiler.errors import Location, ProjectFileError

DEFAULT_PORT = 8080


@app.command()
def docs(
    project: ProjectArg = Path("."),
    out: Annotated[
        Path | None, typer.Option("--out", help="The site's folder (default: project.yml's docs.dag_dir, PROJECT/docs).")
    ] = None,
    env: EnvOpt = None,
    profiles_dir: ProfilesDirOpt = None,
    engine: EngineOpt = None,
    status: Annotated[
        bool, typer.Option("--status/--no-status", help="Show each node's last build, read from the warehouse's _ff_meta.")
    ] = True,
    serve: Annotated[bool, typer.Option("--serve", help="Then serve the site on 127.0.0.1 until Ctrl-C.")] = False,
    port: Annotated[int, typer.Option("--port", min=0, max=65535, help="Port for --serve (0: any free port).")] = DEFAULT_PORT,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = 0,
) -> None:
    """Write the HTML docs site: the graph, an overview table, a page per model and source."""
    console = session(quiet, verbose)
    compiled = compile_at(project, env, engine, None, lineage=True, profiles_dir=profiles_dir)
    folder = write_docs(compiled, out, status=status, console=console)
    if serve:
        from targets.docs.serve import serve_folder

        def announce(url: str) -> None:
            console.result(f"serving {url} (Ctrl-C stops)")
            sys.stdout.flush()  # a pipe (a script waiting for the URL) sees it at once

        serve_folder(folder, port, announce)


def write_docs(compiled: Compiled, out: Path | None, *, status: bool, console: Console) -> Path:
    """The site for a compiled project, in `out` or the project's docs.dag_dir."""
    from flowforge_compiler.project import docs_settings
    from targets.docs.build_status import read_build_status
    from targets.docs.site import write_site

    folder = out if out is not None else compiled.root / docs_settings(compiled.root).dag_dir
    if out is None and not folder.resolve().is_relative_to(compiled.root.resolve()):
        raise ProjectFileError(
            f"docs.dag_dir resolves to {folder.resolve()}, outside the project folder",
            location=Location("project.yml"),
            hint="remove the symlink, or give the folder with --out",
        )
    read = read_build_status(compiled.plan, compiled.profile) if status else None
    site = write_site(compiled.plan, compiled.root, folder, read)
    console.result(f"wrote {site.index} ({site.pages} pages)")
    return site.folder
