"""Project-local Python modules: which files a model imports, found from syntax trees alone.

One resolution serves three users: the fingerprint (a helper edit rebuilds its models), the
bundle (the helper files ship beside plan.json) and the runtime importer (each project gets its
own copy of `helpers`). A name is project-local when `<folder>/<name>.py` or `<folder>/<name>/`
exists in a search folder: the model's own folder first, then the project root, as Python
would see a script's folder first.

The answers depend on the file system, so a compile may ask for them to be recorded
(`recording_imports`): every path probed with what it was, every helper file read with a digest
of its text. The plan cache serves a plan again only when all of them answer the same.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path

from flowforge_compiler.fingerprints import file_digest

# FlowForge's own packages are never a project's helpers.
_NOT_LOCAL = frozenset({"flowforge", "flowforge_compiler", "runtime", "targets"})


@dataclass
class ImportProbes:
    """What resolving imports asked the file system during one compile."""

    paths: dict[str, str] = field(default_factory=dict)  # path -> probe_answer(path)
    files: dict[str, str] = field(default_factory=dict)  # helper file read -> helper_digest(file)

    def unchanged(self) -> bool:
        """Would resolving the same imports now find the same files with the same text?"""
        return _same(self.paths, probe_answer) and _same(self.files, helper_digest)


_RECORDING: ContextVar[ImportProbes | None] = ContextVar("flowforge_import_probes", default=None)


@contextmanager
def recording_imports() -> Iterator[ImportProbes]:
    probes = ImportProbes()
    token = _RECORDING.set(probes)
    try:
        yield probes
    finally:
        _RECORDING.reset(token)


def probe_answer(path: str | Path) -> str:
    """'dir', 'file' or '' as Python's import sees it (links followed), and a link's target."""
    p = Path(path)
    kind = "dir" if p.is_dir() else "file" if p.is_file() else ""
    return f"{kind}->{p.resolve()}" if p.is_symlink() else kind


def helper_digest(path: str | Path) -> str:
    """A digest of the file's bytes; '' when it cannot be read."""
    try:
        return file_digest(Path(path).read_bytes())
    except OSError:
        return ""


def _same(recorded: Mapping[str, str], answer: Callable[[str], str]) -> bool:
    return all(answer(path) == value for path, value in recorded.items())


def _probe(path: Path) -> str:
    answer = probe_answer(path)
    probes = _RECORDING.get()
    if probes is not None:
        probes.paths[str(path)] = answer
    return answer.split("->", 1)[0]


def _read_helper(path: Path) -> str:
    probes = _RECORDING.get()
    if probes is not None:
        probes.files[str(path)] = helper_digest(path)
    return path.read_text(encoding="utf-8")


@dataclass(frozen=True)
class LocalModule:
    name: str  # dotted, as imported
    path: Path | None  # the .py file; None for a namespace folder
    folder: Path  # the search folder it was found in
    package: bool


def find_module(dotted: str, folders: Sequence[Path]) -> list[LocalModule]:
    """The modules `import dotted` loads from the project: each package on the way, then the
    module; empty when the top-level name is not project-local."""
    parts = dotted.split(".")
    if parts[0] in _NOT_LOCAL or not all(p.isidentifier() for p in parts):
        return []
    for folder in folders:
        found = _walk(folder, parts)
        if found:
            return found
    return []


def _walk(folder: Path, parts: list[str]) -> list[LocalModule]:
    out: list[LocalModule] = []
    base = folder
    for depth, part in enumerate(parts):
        name = ".".join(parts[: depth + 1])
        module_file, package_dir = base / f"{part}.py", base / part
        if _probe(package_dir) == "dir":
            init = package_dir / "__init__.py"
            out.append(LocalModule(name, init if _probe(init) == "file" else None, folder, True))
            base = package_dir
        elif _probe(module_file) == "file":
            out.append(LocalModule(name, module_file, folder, False))
            return out  # `a.b` where a is a module: a is what loads
        else:
            return out if depth else []
    return out


def imported_modules(source: str | ast.AST, module: LocalModule | None, folders: Sequence[Path]) -> Iterator[LocalModule]:
    """The project-local modules one module's import statements load (not transitively)."""
    tree = ast.parse(source) if isinstance(source, str) else source
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield from find_module(alias.name, folders)
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(node, module)
            if base is None:
                continue
            found = find_module(base, folders) if node.level == 0 else _relative(base, module)
            yield from found
            if found and found[-1].package:  # `from pkg import sub` may load a submodule
                for alias in node.names:
                    yield from (m for m in find_module(f"{base}.{alias.name}", [found[0].folder]) if m.name != base)


def _absolute(node: ast.ImportFrom, module: LocalModule | None) -> str | None:
    if node.level == 0:
        return node.module
    if module is None:  # a model file is no package: its relative imports are not ours to find
        return None
    package = module.name.split(".") if module.package else module.name.split(".")[:-1]
    if node.level - 1 > len(package) or (node.level - 1 == len(package) and not node.module):
        return None
    kept = package[: len(package) - (node.level - 1)]
    return ".".join([*kept, node.module] if node.module else kept) or None


def _relative(dotted: str, module: LocalModule | None) -> list[LocalModule]:
    return find_module(dotted, [module.folder]) if module is not None else []


def local_imports(source: str | ast.AST, folders: Sequence[Path]) -> list[LocalModule]:
    """Every project-local module `source` needs, transitively, in a stable order."""
    seen: dict[str, LocalModule] = {}
    pending = list(imported_modules(source, None, folders))
    while pending:
        current = pending.pop(0)
        if current.name in seen:
            continue
        seen[current.name] = current
        if current.path is not None:
            try:
                tree = ast.parse(_read_helper(current.path))
            except (OSError, SyntaxError, UnicodeDecodeError):
                continue  # the import at run time reports it, with the file and line
            pending.extend(imported_modules(tree, current, [current.folder, *folders]))
    return sorted(seen.values(), key=lambda m: m.name)
