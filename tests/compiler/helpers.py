"""Compile a project from files in one call."""

from __future__ import annotations

from pathlib import Path

from flowforge_compiler.compile import compile_project
from flowforge_compiler.plan import Plan
from flowforge_compiler.profiles import resolve_profile
from flowforge_compiler.project import load_project


def compile_dir(root: Path, *, environ: dict[str, str] | None = None, vars: dict | None = None) -> Plan:
    environ = {} if environ is None else environ
    project = load_project(root)
    return compile_project(project, resolve_profile(project.root, None, environ=environ), environ=environ, vars=vars)
