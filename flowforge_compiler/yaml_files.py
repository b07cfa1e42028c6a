"""Strict YAML loading: parse, validate with pydantic, and report errors with file, line and key."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from flowforge_compiler.errors import Location, ProjectFileError

M = TypeVar("M", bound=BaseModel)


class _LineLoader(yaml.SafeLoader):
    """A safe loader that leaves the composed node tree available for line look-ups."""


def read_yaml(path: Path, display: str) -> tuple[Any, yaml.Node | None]:
    """Parse a YAML file into Python data plus its node tree (for error lines)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ProjectFileError(f"cannot read file: {exc.strerror}", location=Location(display)) from exc
    try:
        node = yaml.compose(text, Loader=_LineLoader)
        data = yaml.load(text, Loader=_LineLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise ProjectFileError(f"invalid YAML: {problem}", location=Location(display, line)) from exc
    return data, node


def _walk(node: yaml.Node | None, loc: tuple[object, ...]) -> tuple[yaml.Node | None, int | None]:
    """Follow `loc` into a composed YAML tree as deep as it exists: (node, 1-based line)."""
    line = node.start_mark.line + 1 if node is not None else None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            pair = next(((k, v) for k, v in node.value if getattr(k, "value", None) == str(part)), None)
            if pair is None:
                break
            line = pair[0].start_mark.line + 1
            node = pair[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            break
    return node, line


def line_of(node: yaml.Node | None, loc: tuple[object, ...]) -> int | None:
    """The 1-based line of the value at `loc`, or of its deepest existing parent."""
    return _walk(node, loc)[1]


def subnode(node: yaml.Node | None, loc: tuple[object, ...]) -> yaml.Node | None:
    """The node at `loc`, so nested values can be validated with their own lines."""
    return _walk(node, loc)[0]


def validate(model: type[M], data: Any, display: str, node: yaml.Node | None = None) -> M:
    """Validate data against a strict model; the first error names the file, line and key."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ProjectFileError(
            describe_validation_error(exc, model),
            location=Location(display, line_of(node, _first_loc(exc))),
        ) from exc


def load_model(path: Path, model: type[M], display: str, *, empty: Any = None) -> M:
    """Read and validate one YAML file; an empty file validates as `empty`."""
    data, node = read_yaml(path, display)
    return validate(model, empty if data is None else data, display, node)


def _first_loc(exc: ValidationError) -> tuple[int | str, ...]:
    return tuple(exc.errors()[0]["loc"])


def describe_validation_error(exc: ValidationError, model: type[BaseModel]) -> str:
    """One readable sentence per problem; unknown keys list the keys that are allowed."""
    messages: list[str] = []
    for error in exc.errors():
        loc = tuple(error["loc"])
        where = ".".join(str(p) for p in loc) or "(top level)"
        if error["type"] == "extra_forbidden":
            allowed = _allowed_keys(model, loc[:-1])
            allowed_text = f"; allowed keys: {', '.join(allowed)}" if allowed else ""
            messages.append(f"unknown key {loc[-1]!r} at {where}{allowed_text}")
        elif error["type"] == "missing":
            messages.append(f"missing required key {where}")
        else:
            messages.append(f"{where}: {error['msg']}")
    return "; ".join(messages)


def _allowed_keys(model: type[BaseModel], loc: tuple[int | str, ...]) -> list[str]:
    """Walk the model's fields along `loc` to find which keys the enclosing mapping accepts."""
    current: Any = model
    for part in loc:
        if isinstance(part, int):
            continue
        fields = getattr(current, "model_fields", None)
        if fields is None:
            sub = _submodel_named(current, str(part))
            if sub is None:
                return []
            current = sub
            continue
        field = fields.get(str(part)) or next(
            (f for f in fields.values() if f.alias == part), None
        )
        if field is None:
            return []
        current = _innermost_model(field.annotation, part)
        if current is None:
            return []
    fields = getattr(current, "model_fields", None)
    if fields is None:
        return []
    return sorted(f.alias or name for name, f in fields.items())


def _innermost_model(annotation: Any, _part: int | str) -> Any:
    """The pydantic model inside an annotation like `X | None`, `list[X]` or `dict[str, X]`."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        found = _innermost_model(arg, _part)
        if found is not None:
            return found
    return None


def _submodel_named(annotation: Any, tag: str) -> Any:
    """For a discriminated union, pydantic puts the tag in the loc; find the member model."""
    for arg in getattr(annotation, "__args__", ()) or ():
        if isinstance(arg, type) and issubclass(arg, BaseModel):
            for field in arg.model_fields.values():
                literal = getattr(field.annotation, "__args__", ())
                if tag in literal:
                    return arg
    return None
