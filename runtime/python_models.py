"""Calling a Python model: import its file, check required columns, apply the call convention.

Each project's helper modules are imported under a namespace of their own
(`flowforge_user_models.<folder key>.helpers`), never through `sys.path`: a worker that runs two
projects' models in one process gives each its own `helpers`. A model file and its helpers are
executed with an `__import__` that maps project-local names (see `local_modules`) there.
"""

from __future__ import annotations

import builtins
import hashlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
import threading
import traceback
import types
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

from flowforge_compiler.errors import Location, ModelBuildError, ModuleLoadError, RequiredColumnsError
from flowforge_compiler.local_modules import find_module
from flowforge_compiler.paths import project_file
from flowforge_compiler.plan import PlanNode

NAMESPACE = "flowforge_user_models"
_MODULES: dict[tuple[Any, ...], ModuleType] = {}
_LOCK = threading.RLock()


def load_function(node: PlanNode, root: Path) -> Callable[..., Any]:
    """Import the model's file once per version of it and of its helpers (thread-safe) and
    return its function. Long-lived workers see edited files: the key holds sizes and mtimes."""
    assert node.python is not None
    path = root / project_file(root, root / node.python.path, node.python.path)
    files = [path, *(root / m for m in node.python.modules)]
    stamp = tuple((f.stat().st_mtime_ns, f.stat().st_size) if f.is_file() else (0, 0) for f in files)
    with _LOCK:
        key = (path.resolve(), stamp)
        module = _MODULES.get(key)
        if module is None:
            module = _import_model(path, node.python.path, root.resolve(), _digest(stamp))
            _MODULES[key] = module
    func = getattr(module, node.python.function, None)
    if not callable(func):
        raise ModuleLoadError(
            f"function {node.python.function!r} of model {node.id!r} is not defined",
            location=Location(node.python.path),
            hint="recompile the plan after renaming a model function",
        )
    return func


def _digest(value: object) -> str:
    return hashlib.sha1(repr(value).encode()).hexdigest()[:12]


class _ProjectModules(importlib.abc.MetaPathFinder):
    """Finds `flowforge_user_models.<key>.<dotted>` in the folder registered for `<key>`."""

    def __init__(self) -> None:
        self.folders: dict[str, tuple[Path, tuple[Path, ...], str]] = {}  # key -> (folder, search, version)

    def register(self, folder: Path, search: Sequence[Path], version: str) -> str:
        key = "_" + _digest((str(folder), version))
        with _LOCK:
            if key not in self.folders:
                self.folders[key] = (folder, (folder, *search), version)
                _package(NAMESPACE)
                _package(f"{NAMESPACE}.{key}")
        return key

    def find_spec(self, fullname: str, path: object = None, target: object = None) -> importlib.machinery.ModuleSpec | None:
        parts = fullname.split(".")
        if len(parts) < 3 or parts[0] != NAMESPACE or parts[1] not in self.folders:
            return None
        folder, search, version = self.folders[parts[1]]
        found = find_module(".".join(parts[2:]), [folder])
        if not found or found[-1].name != ".".join(parts[2:]):
            return None
        module = found[-1]
        if module.path is None:  # a folder without __init__.py: a namespace package
            spec = importlib.machinery.ModuleSpec(fullname, None, is_package=True)
            spec.submodule_search_locations = [str(folder.joinpath(*parts[2:]))]
            return spec
        loader = _ProjectLoader(fullname, str(module.path), search, version)
        locations = [str(module.path.parent)] if module.package else None
        return importlib.util.spec_from_file_location(fullname, module.path, loader=loader, submodule_search_locations=locations)


class _ProjectLoader(importlib.machinery.SourceFileLoader):
    """Executes a project module with the project's `__import__`."""

    def __init__(self, fullname: str, path: str, search: tuple[Path, ...], version: str):
        super().__init__(fullname, path)
        self.search, self.version = search, version

    def exec_module(self, module: ModuleType) -> None:
        module.__dict__["__builtins__"] = _builtins_for(self.search, self.version)
        super().exec_module(module)


_FINDER = _ProjectModules()
sys.meta_path.insert(0, _FINDER)


def _package(name: str) -> None:
    if name not in sys.modules:
        package = types.ModuleType(name)
        package.__path__ = []
        sys.modules[name] = package


def _builtins_for(search: tuple[Path, ...], version: str) -> dict[str, Any]:
    """Builtins whose `__import__` resolves the project's own top-level names in `search`."""
    real = builtins.__import__

    def project_import(name: str, globals: Any = None, locals: Any = None, fromlist: Sequence[str] = (), level: int = 0) -> ModuleType:
        if level == 0:
            found = find_module(name, search)
            if found:
                key = _FINDER.register(found[0].folder, search[1:], version)
                module = real(f"{NAMESPACE}.{key}.{name}", globals, locals, fromlist, 0)
                return module if fromlist else sys.modules[f"{NAMESPACE}.{key}.{name.split('.')[0]}"]
        return real(name, globals, locals, fromlist, level)

    return {**builtins.__dict__, "__import__": project_import}


def _import_model(path: Path, display: str, root: Path, version: str) -> ModuleType:
    if not path.is_file():
        raise ModuleLoadError(f"model file not found: {display}", hint="ship the model files next to plan.json")
    name = f"{NAMESPACE}._model_{_digest((str(path), version))}"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    module.__dict__["__builtins__"] = _builtins_for((path.parent.resolve(), root), version)
    try:
        spec.loader.exec_module(module)
    except (Exception, SystemExit) as exc:  # noqa: BLE001 - the user's module failed (or exited) at import
        raise ModuleLoadError(
            f"importing the model file failed: {type(exc).__name__}: {exc}",
            location=Location(display, _user_line(exc, path)),
        ) from exc
    return module


def check_required_columns(
    node: PlanNode, columns_by_relation: Mapping[str, list[str]], *, fold: Callable[[str], str] = str
) -> None:
    """Raise RequiredColumnsError before the function runs when an input lacks a column
    (`fold`: how the engine's catalog writes a name, so `id` finds Snowflake's `ID`)."""
    assert node.python is not None
    for relation, required in node.python.requires.items():
        present = columns_by_relation.get(relation, [])
        folded = {fold(c) for c in present}
        missing = sorted(c for c in required if fold(c) not in folded)
        if missing:
            raise RequiredColumnsError(node.id, relation, missing, list(present))


def call_model(func: Callable[..., Any], inputs: dict[str, Any]) -> Any:
    """The call convention: no dependency -> no argument; one -> the frame; several -> a dict."""
    if not inputs:
        return func()
    if len(inputs) == 1:
        return func(next(iter(inputs.values())))
    return func(dict(inputs))


def user_code_error(node: PlanNode, engine: str, exc: BaseException, root: Path) -> ModelBuildError:
    """A model function raised: report the user's own line and, for KeyError, what to check."""
    assert node.python is not None
    line = _user_line(exc, (root / node.python.path).resolve())
    message = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, SystemExit):  # it would end the whole run, exit 0 and half the nodes unbuilt
        message = f"the model called sys.exit({exc.code!r}); a model returns its rows, and a failure raises"
    if isinstance(exc, KeyError) and len(node.depends_on) > 1:
        message += "\n  (with several deps the function gets a dict keyed by relation_for(dep), e.g. 'users' for 'users.ff')"
    return ModelBuildError(node.id, node.path, engine, message, line=line)


def _user_line(exc: BaseException, path: Path) -> int | None:
    lines = [f.lineno for f in traceback.extract_tb(exc.__traceback__) if Path(f.filename).resolve() == path]
    if lines:
        return lines[-1]
    if isinstance(exc, SyntaxError):
        return exc.lineno
    return None
