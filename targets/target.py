"""The Target interface: a plan becomes something that runs it (or shows it), one class each.

A target is a registered object with a name, an options dataclass and `write(plan, root, out,
profile, options)`. Its options' fields carry their command-line flags (`option(...)`), from which
`ffc compile` makes its flags, so a new target brings its flags with it. The built-in targets
register when their modules are imported (`targets()` imports them); none of them imports the
runtime to write: the code they generate calls it when it runs.
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from importlib import import_module
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel

from flowforge_compiler.errors import SelectionError
from flowforge_compiler.plan import Plan
from flowforge_compiler.profiles import Profile
from flowforge_compiler.yaml_files import read_yaml, validate

BUILTIN = ("targets.plan_file", "targets.airflow", "targets.prefect", "targets.docs.site")


@dataclass(frozen=True)
class Flag:
    """How an options field is written on the command line."""

    names: tuple[str, ...]
    help: str
    min: int | None = None


def option(default: Any, *names: str, help: str, min: int | None = None) -> Any:
    """An options field that is also a flag of `ffc compile`."""
    return field(default=default, metadata={"flag": Flag(names, help, min)})


@dataclass(frozen=True, kw_only=True)
class TargetOptions:
    """What every target takes from `ffc compile`, besides its own flags."""

    node_ids: tuple[str, ...] | None = None  # a --select subset; None is every node

    def node_count(self, plan: Plan) -> int:
        """How many of the plan's nodes the target writes for."""
        return len(self.node_ids) if self.node_ids is not None else len(plan.nodes)


@dataclass(frozen=True)
class Written:
    """What a target wrote: the file or folder to name, and a line for people."""

    path: Path
    summary: str


class Target(ABC):
    """One way to turn a plan into something that runs it; subclasses register by name."""

    name: ClassVar[str]
    help: ClassVar[str]  # one line, for `--target`'s help
    options: ClassVar[type[TargetOptions]] = TargetOptions
    # What project.yml's block of the target's name may hold (`airflow:`), validated when it writes.
    settings: ClassVar[type[BaseModel] | None] = None
    needs_out: ClassVar[bool] = True  # --out is required (else the target has a default place)
    lineage: ClassVar[bool] = False  # the plan it writes carries column lineage

    registry: ClassVar[dict[str, Target]] = {}

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        if "name" in cls.__dict__:
            Target.registry[cls.name] = cls()

    @classmethod
    def settings_of(cls, plan: Plan, root: Path | None = None) -> Any:
        """project.yml's block for this target, validated by its settings model; with the
        project folder, an error names the line of project.yml, as the loader's errors do."""
        assert cls.settings is not None
        block = plan.project.targets.get(cls.name, {})
        node = None
        if root is not None and (root / "project.yml").is_file():
            node = read_yaml(root / "project.yml", "project.yml")[1]
        return validate(cls.settings, block, "project.yml", node, prefix=(cls.name,))

    @abstractmethod
    def write(self, plan: Plan, root: Path, out: Path | None, profile: Profile, options: Any) -> Written:
        """Write the target's files for `plan` (of the project at `root`) into `out`."""


def targets() -> dict[str, Target]:
    """Every registered target by name (the built-in ones imported first)."""
    for module in BUILTIN:
        import_module(module)
    return dict(sorted(Target.registry.items()))


def flags_of(options: type[TargetOptions]) -> dict[str, tuple[dataclasses.Field[Any], Flag]]:
    """The options' fields that are flags, by field name."""
    return {f.name: (f, f.metadata["flag"]) for f in dataclasses.fields(options) if "flag" in f.metadata}


def build_options(target: Target, given: dict[str, Any], **context: Any) -> Any:
    """The target's options from the flags given (a flag of another target, set away from its
    default, is an error naming the targets it is for) and the values the command works out."""
    mine = flags_of(target.options)
    for name, value in given.items():
        if name in mine:
            continue
        owners = {t.name: flags_of(t.options)[name] for t in targets().values() if name in flags_of(t.options)}
        field, flag = next(iter(owners.values()))
        if value != field.default:
            raise SelectionError(f"{flag.names[0]} is for --target {' or '.join(sorted(owners))}, not {target.name}")
    known = {f.name for f in dataclasses.fields(target.options)}
    values = {name: value for name, value in given.items() if name in mine}
    return target.options(**values, **{k: v for k, v in context.items() if k in known})
