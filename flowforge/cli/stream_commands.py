"""`ffc stream`: process a project's streams once, or follow their files until stopped."""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from flowforge.cli.app import AllowOutsideOpt, EngineOpt, EnvOpt, LockTimeoutOpt, ProfilesDirOpt, ProjectArg, QuietOpt, VerboseOpt, app, compile_at, session
from flowforge_compiler.errors import SelectionError

if TYPE_CHECKING:  # the plan's models load pydantic: not for `ffc --version`
    from flowforge_compiler.plan import Plan, PlanNode


def stream_nodes(plan: Plan, name: str | None) -> list[PlanNode]:
    """The plan's streams, or the one named (by its stream name or its table)."""
    streams = [n for n in plan.nodes if n.stream is not None]
    if not streams:
        raise SelectionError(f"project {plan.project.name!r} has no streams", hint="declare one under `streams:` in project.yml")
    if name is None:
        return streams
    chosen = [n for n in streams if name in (n.id, n.stream.name if n.stream else None)]
    if not chosen:
        known = ", ".join(f"{n.stream.name} (into {n.id})" for n in streams if n.stream)
        raise SelectionError(f"no stream named {name!r}", hint=f"streams: {known}")
    return chosen


@app.command()
def stream(
    project: ProjectArg = Path("."),
    follow: Annotated[
        bool, typer.Option("--follow/--once", help="--once: process what is there and exit; --follow: keep polling until SIGTERM or Ctrl-C.")
    ] = False,
    name: Annotated[str | None, typer.Option("--stream", help="Only this stream (its name, or the table it writes).")] = None,
    full_refresh: Annotated[bool, typer.Option("--full-refresh", help="Forget the sessions and offsets; read the files again from the start.")] = False,
    env: EnvOpt = None,
    profiles_dir: ProfilesDirOpt = None,
    engine: EngineOpt = None,
    lock_timeout: LockTimeoutOpt = 60.0,
    allow_outside: AllowOutsideOpt = None,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = 0,
) -> None:
    """Tail the project's event files into their sessions tables, exactly once across crashes."""
    from runtime import open_executor
    from runtime.streaming import run_stream

    console = session(quiet, verbose)
    compiled = compile_at(project, env, engine, None, profiles_dir=profiles_dir, allow_outside=allow_outside)
    nodes = stream_nodes(compiled.plan, name)
    stopping = threading.Event()
    if follow:
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stopping.set())  # the batch in flight still commits
    poll = min(n.stream.source.poll_seconds for n in nodes if n.stream)
    with open_executor(compiled.profile, lock_timeout=lock_timeout) as executor:
        executor.prepare_run(compiled.plan)
        refresh = full_refresh
        while True:
            for node in nodes:
                progress = run_stream(executor, node, compiled.root, full_refresh=refresh, stop=stopping.is_set)
                if progress.events or progress.rejected or not follow:
                    executor.meta.publish(node)  # the audit row: when the stream last took events in
                    console.print(
                        f"{node.id}: {progress.events} events ({progress.rejected} rejected), "
                        f"{progress.sessions_written} sessions written, {progress.batches} batch(es)"
                    )
                if stopping.is_set():
                    break
            refresh = False
            if not follow or stopping.wait(poll):
                return
