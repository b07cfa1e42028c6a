"""Calling a Python model: import its file, check required columns, apply the call convention."""

from __future__ import annotations

import hashlib
import importlib.util
import sys
import threading
import traceback
from collections.abc import Callable, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

from flowforge_compiler.errors import Location, ModelBuildError, ModuleLoadError, RequiredColumnsError
from flowforge_compiler.plan import PlanNode

_MODULES: dict[tuple[Path, int, int], ModuleType] = {}
_LOCK = threading.Lock()


def load_function(node: PlanNode, root: Path) -> Callable[..., Any]:
    """Import the model's file once per version of it (thread-safe) and return its function.

    Long-lived workers see an edited file: the cache key includes its size and mtime.
    """
    assert node.python is not None
    path = (root / node.python.path).resolve()
    with _LOCK:
        stat = path.stat() if path.is_file() else None
        key = (path, stat.st_mtime_ns if stat else 0, stat.st_size if stat else 0)
        module = _MODULES.get(key)
        if module is None:
            module = _import_file(path, node.python.path, root)
            _MODULES[key] = module
    func = getattr(module, node.python.function, None)
    if not callable(func):
        raise ModuleLoadError(
            f"function {node.python.function!r} of model {node.id!r} is not defined",
            location=Location(node.python.path),
            hint="recompile the plan after renaming a model function",
        )
    return func


def _import_file(path: Path, display: str, root: Path) -> ModuleType:
    if not path.is_file():
        raise ModuleLoadError(f"model file not found: {display}", hint="ship the model files next to plan.json")
    digest = hashlib.sha1(str(path).encode()).hexdigest()[:12]
    name = f"flowforge_user_models._{digest}"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    for folder in (str(path.parent), str(root)):  # helper modules beside the model, or at the root
        if folder not in sys.path:
            sys.path.append(folder)
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # noqa: BLE001 - the user's module failed at import
        raise ModuleLoadError(
            f"importing the model file failed: {type(exc).__name__}: {exc}",
            location=Location(display, _user_line(exc, path)),
        ) from exc
    return module


def check_required_columns(node: PlanNode, columns_by_relation: Mapping[str, list[str]]) -> None:
    """Raise RequiredColumnsError before the function runs when an input lacks a column."""
    assert node.python is not None
    for relation, required in node.python.requires.items():
        present = columns_by_relation.get(relation, [])
        missing = sorted(set(required) - set(present))
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
