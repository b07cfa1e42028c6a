"""Python model discovery from the syntax tree: user code is never imported at compile time."""

from __future__ import annotations

import ast
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from flowforge_compiler.errors import Location, ModuleLoadError
from flowforge_compiler.local_modules import local_imports
from flowforge_compiler.paths import project_file

_AUTHORING_MODULES = {"flowforge_compiler", "flowforge_compiler.authoring", "flowforge"}


@dataclass(frozen=True)
class PythonModelDecl:
    """One `@model` function found in a file."""

    name: str
    path: str  # relative to the project, forward slashes
    function: str
    line: int
    deps: tuple[str, ...]
    requires: dict[str, list[str]] | list[str]
    normalized_source: str  # the function and the module-level code it uses, comments dropped
    modules: tuple[str, ...] = ()  # project-local module files the file imports, relative to the project
    parameters: tuple[int, int | None] = (0, 0)  # positional arguments the function takes: (least, most)


def discover_python_models(path: Path, display: str, root: Path | None = None) -> list[PythonModelDecl]:
    """All `@model`-decorated top-level functions of one file.

    The project-local modules the file imports (transitively, packages included; see
    `local_modules`) are part of each model's normalised source, so editing one changes the
    model, and they are listed so bundles ship them.
    """
    try:
        source = path.read_text(encoding="utf-8")
        tree = ast.parse(source, filename=display)
    except SyntaxError as exc:
        raise ModuleLoadError(f"invalid Python: {exc.msg}", location=Location(display, exc.lineno, exc.offset)) from exc
    except UnicodeDecodeError as exc:
        raise ModuleLoadError("the file is not UTF-8 text", location=Location(display)) from exc
    folders = [path.parent] + ([root] if root is not None else [])
    helpers = _helper_modules(tree, folders, root or path.parent, display)
    _strip_docstrings(tree)  # docs never change a fingerprint; stripped once, in place
    decorator_names = _decorator_names(tree)
    definitions = _module_definitions(tree)
    helper_text = "\n".join(f"# helper {name}\n{text}" for name, _, text in helpers)
    modules = tuple(rel for _, rel, _ in helpers if rel)
    found: list[PythonModelDecl] = []
    for node in tree.body:
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for decorator in node.decorator_list:
            if _is_model_decorator(decorator, decorator_names):
                declaration = _declaration(node, decorator, display, definitions)
                if helper_text:
                    declaration = replace(declaration, normalized_source=declaration.normalized_source + "\n" + helper_text)
                found.append(replace(declaration, modules=modules))
    return found


def _helper_modules(tree: ast.Module, folders: list[Path], root: Path, display: str) -> list[tuple[str, str, str]]:
    """(module name, file relative to the project, normalised text) of every local module."""
    out: list[tuple[str, str, str]] = []
    for module in local_imports(tree, folders):
        if module.path is None:
            out.append((module.name, "", "# namespace package"))
            continue
        relative = project_file(root, module.path, f"{display}: import {module.name}")
        try:
            helper = ast.parse(module.path.read_text(encoding="utf-8"))
        except (OSError, SyntaxError, UnicodeDecodeError) as exc:
            raise ModuleLoadError(
                f"the helper module {module.name!r} it imports cannot be read: {exc}", location=Location(relative)
            ) from exc
        _strip_docstrings(helper)
        out.append((module.name, relative, ast.unparse(helper)))
    return out


def _decorator_names(tree: ast.Module) -> tuple[set[str], set[str]]:
    """Names under which `model` is reachable: direct (`model`) and module aliases (`ff.model`)."""
    direct: set[str] = {"model"}
    modules: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module in _AUTHORING_MODULES:
            direct.update(a.asname or a.name for a in node.names if a.name == "model")
        elif isinstance(node, ast.Import):
            modules.update(a.asname or a.name for a in node.names if a.name in _AUTHORING_MODULES)
    return direct, modules


def _is_model_decorator(decorator: ast.expr, names: tuple[set[str], set[str]]) -> bool:
    target = decorator.func if isinstance(decorator, ast.Call) else decorator
    if isinstance(target, ast.Name):
        return target.id in names[0]
    if isinstance(target, ast.Attribute) and target.attr == "model":
        return ast.unparse(target.value) in names[1]
    return False


def _declaration(
    func: ast.FunctionDef | ast.AsyncFunctionDef,
    decorator: ast.expr,
    display: str,
    definitions: dict[str, ast.stmt],
) -> PythonModelDecl:
    args = _decorator_arguments(decorator, display)
    name = args.get("name") or func.name
    deps: Any = args.get("deps") or []
    requires = args.get("requires", args.get("require")) or {}
    where = Location(display, decorator.lineno)
    if not isinstance(name, str):
        raise ModuleLoadError("@model(name=...) must be a string", location=where)
    if isinstance(deps, str) or not all(isinstance(d, str) for d in deps):
        raise ModuleLoadError("@model(deps=...) must be a list of node names", location=where)
    return PythonModelDecl(
        name=name,
        path=display,
        function=func.name,
        line=func.lineno,
        deps=tuple(deps),
        requires=_normalise_requires(requires, where),
        normalized_source=_normalized_source(func, definitions),
        parameters=_positional_range(func),
    )


def _positional_range(func: ast.FunctionDef | ast.AsyncFunctionDef) -> tuple[int, int | None]:
    """How many positional arguments the function can be called with: (least, most or None)."""
    args = func.args
    positional = len(args.posonlyargs) + len(args.args)
    required_keywords = sum(1 for d in args.kw_defaults if d is None)
    least = positional - len(args.defaults)
    if required_keywords:
        least = positional + 1  # no call FlowForge makes can satisfy a required keyword-only argument
    return least, None if args.vararg else positional


def _decorator_arguments(decorator: ast.expr, display: str) -> dict[str, object]:
    if not isinstance(decorator, ast.Call):
        return {}
    keys = ["name", "deps", "requires"]
    out: dict[str, object] = {}
    try:
        for key, arg in zip(keys, decorator.args, strict=False):
            out[key] = ast.literal_eval(arg)
        for keyword in decorator.keywords:
            if keyword.arg is None:
                raise ValueError("**kwargs")
            if keyword.arg not in {"name", "deps", "requires", "require"}:
                raise ModuleLoadError(
                    f"unknown @model argument {keyword.arg!r}; allowed: name, deps, requires (alias require)",
                    location=Location(display, keyword.lineno),
                )
            out[keyword.arg] = ast.literal_eval(keyword.value)
    except ValueError as exc:
        raise ModuleLoadError(
            "the arguments of @model must be literals (strings, lists, dicts, sets)",
            location=Location(display, decorator.lineno),
            hint="FlowForge reads @model without running your code; compute nothing inside it",
        ) from exc
    return out


def _normalise_requires(requires: object, where: Location) -> dict[str, list[str]] | list[str]:
    if isinstance(requires, dict):
        out: dict[str, list[str]] = {}
        for key, cols in requires.items():
            if not isinstance(key, str) or isinstance(cols, str) or not all(isinstance(c, str) for c in cols):
                raise ModuleLoadError("@model(requires=...) maps a dependency name to column names", location=where)
            out[key] = sorted(cols)
        return out
    if isinstance(requires, list | set | tuple | frozenset) and all(isinstance(c, str) for c in requires):
        return sorted(requires)
    raise ModuleLoadError("@model(requires=...) must be a mapping or a list of columns", location=where)


def _module_definitions(tree: ast.Module) -> dict[str, ast.stmt]:
    """Top-level names of a module and the statement that binds each."""
    out: dict[str, ast.stmt] = {}
    for stmt in tree.body:
        if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            out[stmt.name] = stmt
        elif isinstance(stmt, ast.Assign | ast.AnnAssign):
            targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
            for target in targets:
                for name in ast.walk(target):
                    if isinstance(name, ast.Name):
                        out[name.id] = stmt
        elif isinstance(stmt, ast.Import | ast.ImportFrom):
            for alias in stmt.names:
                out[(alias.asname or alias.name).split(".")[0]] = stmt
    return out


def _normalized_source(func: ast.AST, definitions: dict[str, ast.stmt]) -> str:
    """The function plus the module-level statements it uses, without docstrings or comments."""
    seen: list[ast.stmt] = []
    pending: list[ast.AST] = [func]
    while pending:
        current = pending.pop()
        for node in ast.walk(current):
            if isinstance(node, ast.Name) and node.id in definitions:
                stmt = definitions[node.id]
                if stmt is not func and all(stmt is not s for s in seen):
                    seen.append(stmt)
                    pending.append(stmt)
    seen.sort(key=lambda s: s.lineno)
    return "\n".join(ast.unparse(s) for s in [*seen, func])


def _strip_docstrings(tree: ast.Module) -> None:
    for inner in ast.walk(tree):
        body = getattr(inner, "body", None)
        if (
            isinstance(inner, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Module)
            and isinstance(body, list)
            and body
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
            and isinstance(body[0].value.value, str)
        ):
            inner.body = body[1:] or [ast.Pass()]
