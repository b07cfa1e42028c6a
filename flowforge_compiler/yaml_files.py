"""Strict YAML loading: parse, validate with pydantic, and report errors with file, line and key."""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from functools import cache
from pathlib import Path
from types import UnionType
from typing import Annotated, Any, Literal, TypeVar, Union, get_args, get_origin

import yaml
from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError

from flowforge_compiler.errors import Location, ProjectFileError

M = TypeVar("M", bound=BaseModel)


class Strict(BaseModel):
    """Base for every user-facing file format: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class _LineLoader(yaml.SafeLoader):
    """A safe loader that refuses duplicate keys (PyYAML silently keeps the last one) and reads
    merge keys (`<<: *defaults`, common in dbt's schema files), whose keys a mapping's own
    override."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            if isinstance(key, Hashable) and key in seen:
                raise DuplicateKeyError(key, seen[key], line)
            if isinstance(key, Hashable):
                seen[key] = line
        self.flatten_mapping(node)
        return super().construct_mapping(node, deep=deep)


class DuplicateKeyError(Exception):
    def __init__(self, key: Any, first: int, second: int):
        super().__init__(f"duplicate key {key!r} (lines {first} and {second})")
        self.key, self.first, self.second = key, first, second


# A document may reuse a value through an alias, but not grow past this many values by it: ten
# lines of nested aliases (a "billion laughs") would otherwise take minutes and gigabytes to read.
MAX_EXPANDED_VALUES = 1_000_000


def parse_yaml(text: str, display: str) -> tuple[Any, yaml.Node | None]:
    """Parse YAML text once into Python data plus its node tree (for error lines).

    Duplicate keys are errors naming the key and both lines, in every file FlowForge reads; a
    document whose aliases expand past `MAX_EXPANDED_VALUES` values, or nested too deeply to
    read, is an error naming the file.
    """
    try:
        loader = _LineLoader(text)
        try:
            node = loader.get_single_node()
            if node is not None and _expanded_size(node) > MAX_EXPANDED_VALUES:
                raise ProjectFileError(
                    f"the document's aliases (*name) expand it past {MAX_EXPANDED_VALUES:,} values",
                    location=Location(display),
                    hint="write the values out, or reuse fewer of them through aliases",
                )
            data = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except RecursionError:
        raise ProjectFileError(
            "the document is nested too deeply to read", location=Location(display), hint="flatten it: a few dozen levels are plenty"
        ) from None
    except DuplicateKeyError as exc:
        raise ProjectFileError(
            f"duplicate key {exc.key!r}: first on line {exc.first}, again on line {exc.second}",
            location=Location(display, exc.second),
            hint="YAML keeps only one of them; remove or rename the other",
        ) from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise ProjectFileError(f"invalid YAML: {problem}", location=Location(display, line)) from exc
    return data, node


def _expanded_size(root: yaml.Node) -> int:
    """How many values the document holds once every alias is expanded, counted over the node
    graph (an alias is the node it names, met again), without expanding it."""
    size: dict[int, int] = {}
    open_nodes: set[int] = set()  # entered, children not yet counted: meeting one again is a cycle
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:  # post-order, iterative: depth costs no recursion
        node, children_done = stack.pop()
        if id(node) in size:
            continue
        children = [v for pair in node.value for v in pair] if isinstance(node, yaml.MappingNode) else node.value if isinstance(node, yaml.SequenceNode) else []
        if children_done:
            open_nodes.discard(id(node))
            size[id(node)] = min(1 + sum(size[id(c)] for c in children), MAX_EXPANDED_VALUES + 1)
            continue
        if id(node) in open_nodes:
            return MAX_EXPANDED_VALUES + 1  # a value that contains itself expands without end
        open_nodes.add(id(node))
        stack.append((node, True))
        stack.extend((c, False) for c in children if id(c) not in size)
    return size[id(root)]


def read_yaml(path: Path, display: str) -> tuple[Any, yaml.Node | None]:
    """Read and parse a YAML file (see `parse_yaml`)."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ProjectFileError("the file is not UTF-8 text", location=Location(display)) from exc
    except OSError as exc:
        raise ProjectFileError(f"cannot read file: {exc.strerror}", location=Location(display)) from exc
    return parse_yaml(text, display)


def line_of(node: yaml.Node | None, loc: tuple[object, ...]) -> int | None:
    """The 1-based line of the value at `loc`, or of its deepest existing parent."""
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
    return line


def validate(
    model: Any, data: Any, display: str, node: yaml.Node | None = None, *, prefix: tuple[Any, ...] = ()
) -> Any:
    """Validate data against a strict model (or annotation); the error names file, line and key.

    `node` is the file's root node and `prefix` the path from it to `data`, so locations and
    lines are those the user sees in the file.
    """
    try:
        return _adapter(model).validate_python(data)
    except ValidationError as exc:
        loc = _yaml_loc(node, (*prefix, *exc.errors()[0]["loc"]))
        raise ProjectFileError(
            describe_validation_error(exc, model, node=node, prefix=prefix),
            location=Location(display, line_of(node, loc)),
        ) from exc


@cache
def _adapter(model: Any) -> TypeAdapter[Any]:
    return TypeAdapter(model)


def load_model(path: Path, model: type[M], display: str, *, empty: Any = None) -> M:
    """Read and validate one YAML file; an empty file validates as `empty`."""
    data, node = read_yaml(path, display)
    return validate(model, empty if data is None else data, display, node)


def _yaml_loc(node: yaml.Node | None, loc: tuple[Any, ...]) -> tuple[Any, ...]:
    """The location as written in the file: parts pydantic adds (union tags) are dropped."""
    if node is None:
        return loc
    out: list[Any] = []
    current: yaml.Node | None = node
    for index, part in enumerate(loc):
        if isinstance(current, yaml.MappingNode):
            match = next((v for k, v in current.value if getattr(k, "value", None) == str(part)), None)
            if match is None:
                if index == len(loc) - 1:
                    out.append(part)  # the offending key itself
                continue
            out.append(part)
            current = match
        elif isinstance(current, yaml.SequenceNode) and isinstance(part, int) and part < len(current.value):
            out.append(part)
            current = current.value[part]
        else:
            out.append(part)
            current = None
    return tuple(out)


def describe_validation_error(
    exc: ValidationError, model: Any, *, node: yaml.Node | None = None, prefix: tuple[Any, ...] = ()
) -> str:
    """One readable sentence per problem; unknown keys list the keys that are allowed."""
    messages: list[str] = []
    for error in exc.errors():
        loc = tuple(error["loc"])
        where = ".".join(str(p) for p in _yaml_loc(node, (*prefix, *loc))) or "(top level)"
        if error["type"] == "extra_forbidden":
            allowed = _allowed_keys(model, loc[:-1])
            allowed_text = f"; allowed keys: {', '.join(allowed)}" if allowed else ""
            messages.append(f"unknown key {loc[-1]!r} at {where}{allowed_text}")
        elif error["type"] == "missing":
            messages.append(f"missing required key {where}")
        else:
            messages.append(f"{where}: {error['msg']}")
    return "; ".join(messages)


def _allowed_keys(model: Any, loc: tuple[int | str, ...]) -> list[str]:
    """Follow `loc` through the model's annotations to the mapping that got the unknown key."""
    current: Any = model
    for part in loc:
        current = _step(current, part)
        if current is None:
            return []
    found = _as_model(current)
    if found is None:
        return []
    return sorted(f.alias or name for name, f in found.model_fields.items())


def _step(annotation: Any, part: int | str) -> Any:
    """The annotation one level down: a model's field, a container's item, a union's member."""
    origin, args = get_origin(annotation), get_args(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        fields = annotation.model_fields
        field = fields.get(str(part)) or next((f for f in fields.values() if f.alias == part), None)
        return None if field is None else field.annotation
    if origin is Annotated:
        return _step(args[0], part)
    if origin in (dict, Mapping):
        return args[1]
    if origin in (list, tuple, set, frozenset, Sequence):
        return args[0]
    if origin in (Union, UnionType):
        for arg in args:  # a discriminated union puts the tag into the location
            if isinstance(arg, type) and issubclass(arg, BaseModel) and _has_tag(arg, part):
                return arg
        for arg in args:
            if arg is not type(None):
                stepped = _step(arg, part)
                if stepped is not None:
                    return stepped
    return None


def _has_tag(model: type[BaseModel], tag: int | str) -> bool:
    return any(get_origin(f.annotation) is Literal and tag in get_args(f.annotation) for f in model.model_fields.values())


def _as_model(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in get_args(annotation):
        found = _as_model(arg)
        if found is not None:
            return found
    return None
