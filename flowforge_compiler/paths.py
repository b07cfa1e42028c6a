"""Project paths: every file FlowForge reads from a project resolves, after symlinks, inside it."""

from __future__ import annotations

from pathlib import Path

from flowforge_compiler.errors import Location, ProjectFileError


def project_file(root: Path, path: Path, display: str) -> str:
    """`path` relative to the project (forward slashes); a path that leaves the project, through
    `..` or a symlink, is refused before a byte of it is read."""
    base = root.resolve()
    resolved = path.resolve()
    if resolved != base and not resolved.is_relative_to(base):
        raise ProjectFileError(
            f"{display} resolves to {resolved}, outside the project folder",
            location=Location(display),
            hint="FlowForge reads only files inside the project; copy the file into it instead of linking",
        )
    return resolved.relative_to(base).as_posix()


def project_relative(path: Path, root: Path) -> str:
    """`path` relative to the project when it is inside it (so fingerprints do not depend on
    where the project is checked out), else as given."""
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path.as_posix()


def project_root(folder: Path) -> Path:
    """The resolved project folder; one that is missing or holds no project.yml is an error."""
    if not folder.exists():
        raise ProjectFileError(f"the project folder {folder} does not exist", hint="pass the folder that holds project.yml")
    if not folder.is_dir():
        raise ProjectFileError(f"{folder} is a file, not a project folder", hint="pass the folder that holds project.yml")
    root = folder.resolve()
    if not (root / "project.yml").is_file():
        raise ProjectFileError(
            f"not a FlowForge project: {root.name}/ has no project.yml",
            hint="pass the folder that holds project.yml, models/ and seeds/",
        )
    return root
