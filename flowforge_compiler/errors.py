"""The error hierarchy: every error a user can act on carries its exit code and location."""

from __future__ import annotations

from dataclasses import dataclass

EXIT_PROJECT_ERROR = 1
EXIT_TEST_FAILURE = 2
EXIT_UNEXPECTED = 99


@dataclass(frozen=True)
class Location:
    """Where in the user's project an error was found."""

    path: str
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        text = self.path
        if self.line is not None:
            text += f":{self.line}"
            if self.column is not None:
                text += f":{self.column}"
        return text


class FlowForgeError(Exception):
    """Base of all errors FlowForge reports to the user; never shown with a traceback."""

    exit_code: int = EXIT_PROJECT_ERROR
    # True when trying again later may succeed (the cause is outside the project: a server that
    # is down, a file another process holds), False when it may not; None leaves it to the
    # error's cause (a build error wrapping the driver's). Orchestrators retry transient ones.
    transient: bool | None = None

    def __init__(
        self, message: str, *, location: Location | None = None, hint: str | None = None, transient: bool | None = None
    ):
        self.message = message
        self.location = location
        self.hint = hint
        if transient is not None:
            self.transient = transient
        super().__init__(self.render())

    def render(self) -> str:
        text = f"{self.location}: {self.message}" if self.location else self.message
        if self.hint:
            text += f"\n  hint: {self.hint}"
        return text


class ProjectFileError(FlowForgeError):
    """A project file (YAML, model, macro, seed) is missing, malformed or invalid."""


class ModuleLoadError(FlowForgeError):
    """A Python model file cannot be parsed or its `@model` call is not understood."""


class TemplateError(FlowForgeError):
    """A Jinja template failed to parse or render."""


class DependencyNotFoundError(FlowForgeError):
    """One or more nodes reference names that are not in the project."""

    def __init__(self, missing: dict[str, list[tuple[str, list[str]]]]):
        self.missing = missing
        lines = ["Dependencies not found:"]
        for node in sorted(missing):
            for name, suggestions in missing[node]:
                tip = f" (did you mean {', '.join(repr(s) for s in suggestions)}?)" if suggestions else ""
                lines.append(f"  - {node}: {name!r}{tip}")
        super().__init__(
            "\n".join(lines),
            hint="check the names in ref()/source() and @model(deps=...); "
            "ref() takes a model's logical name ('users.ff') or its relation ('users')",
        )


class ModelCycleError(FlowForgeError):
    """The dependency graph has a cycle; the message lists it in order."""

    def __init__(self, cycle: list[str]):
        self.cycle = cycle
        super().__init__(
            "Cycle detected among nodes: " + " -> ".join(cycle),
            hint="remove one of these ref()/deps so the models form a DAG",
        )


class ProfileError(FlowForgeError):
    """The profile cannot be resolved (unknown name, bad engine block, missing env var)."""


class SelectionError(FlowForgeError):
    """A --select expression names nothing in the project."""


class EngineNotInstalledError(FlowForgeError):
    """An optional engine or orchestrator library is missing."""

    def __init__(self, engine: str, extra: str, module: str):
        super().__init__(
            f"The {engine} engine needs the Python package {module!r}, which is not installed.",
            hint=f'pip install "flowforge[{extra}]"',
        )


class RequiredColumnsError(FlowForgeError):
    """A Python model's input lacks columns it declared in `requires`."""

    def __init__(self, model: str, relation: str, missing: list[str], present: list[str]):
        self.model = model
        self.relation = relation
        self.missing_columns = missing
        super().__init__(
            f"Model {model!r}: input relation {relation!r} is missing required column(s) "
            f"{', '.join(missing)} (it has: {', '.join(present) or 'no columns'})",
            hint=f"add the column(s) upstream, or fix `requires` of {model!r}",
        )


class ModelBuildError(FlowForgeError):
    """A node failed to build on the engine; carries the engine's own message."""

    def __init__(self, node: str, path: str, engine: str, engine_message: str, *, line: int | None = None):
        self.node = node
        self.engine_message = engine_message
        super().__init__(
            f"Model {node!r} failed on {engine}:\n  {engine_message.strip()}",
            location=Location(path, line),
        )


class TestFailureError(FlowForgeError):
    """Data-quality checks or unit tests failed."""

    exit_code = EXIT_TEST_FAILURE
