"""The one Jinja environment a project's templates render in: Jinja's sandbox, tightened.

A project is code from someone else: compiling it (`ffc ls`, `ffc compile --target airflow` in
CI, `ffc docs`) must run none of it. Models, macros, tests, dbt packages, dbt_project.yml values
and profile templates all render here, as dbt renders in `jinja2.sandbox`. The sandbox refuses
attributes that start with `_` (so no `__globals__`, `__class__`, `__subclasses__`), the
internals of functions, frames and generators, unsafe `str.format`, and huge `range()`s; on top,
no module is reachable through an attribute (a module's `sys` or `os` would hand over the
interpreter), so what a template may use of a module is a `SafeModule` of named members.
A refused access is a `jinja2.sandbox.SecurityError`, a `TemplateError` like any other, which
the renderers report with the file and line.
"""

from __future__ import annotations

import types
from collections.abc import Iterable, Mapping
from typing import Any

from jinja2.compiler import CodeGenerator, Frame, MacroRef
from jinja2.runtime import Context, Macro
from jinja2.sandbox import SandboxedEnvironment, SecurityError
from jinja2.utils import missing


class TemplateNamespace:
    """An object whose attributes templates read are names it holds (a package's macros, dbt's
    `adapter` or `exceptions`): `member` answers them, `_private` macros included, as dbt's
    packages call them (`dbt_utils._is_relation`); nothing else of the object is reachable."""

    def member(self, name: str) -> Any:
        raise NotImplementedError


class MacroReturn(Exception):  # noqa: N818 - control flow, as dbt's own
    """dbt's `return(value)`: ends the macro, which returns `value`."""

    def __init__(self, value: Any):
        super().__init__("return() outside a macro")
        self.value = value


class _ReturningMacro(Macro):
    """A macro whose `return(...)` gives its value, however it is called (by a global name, a
    package's, or another macro of its own file, which Jinja calls directly)."""

    def _invoke(self, arguments: list[Any], autoescape: bool) -> Any:
        try:
            return super()._invoke(arguments, autoescape)
        except MacroReturn as done:
            return done.value


class _CodeGenerator(CodeGenerator):
    """Jinja's code generator, making macros of the environment's `macro_class`."""

    def macro_def(self, macro_ref: MacroRef, frame: Frame) -> None:
        arguments = ", ".join(repr(x.name) for x in macro_ref.node.args) + ("," if len(macro_ref.node.args) == 1 else "")
        self.write(
            f"environment.macro_class(environment, macro, {getattr(macro_ref.node, 'name', None)!r}, ({arguments}),"
            f" {macro_ref.accesses_kwargs!r}, {macro_ref.accesses_varargs!r},"
            f" {macro_ref.accesses_caller!r}, context.eval_ctx.autoescape)"
        )


class _FallbackContext(Context):
    """A template's names, then the environment's `fallback` (dbt's own macro library, which
    every template sees after the project's names)."""

    def resolve_or_missing(self, key: str) -> Any:
        found = super().resolve_or_missing(key)
        fallback = getattr(self.environment, "fallback", None)
        if found is missing and fallback is not None and key in fallback:
            return fallback[key]
        return found


class ProjectSandbox(SandboxedEnvironment):
    """Jinja's sandbox, refusing modules reached through attributes as well."""

    context_class = _FallbackContext
    code_generator_class = _CodeGenerator
    macro_class = _ReturningMacro
    fallback: Mapping[str, Any] | None = None

    def getattr(self, obj: Any, attribute: str) -> Any:
        if isinstance(obj, TemplateNamespace) and not attribute.startswith("__"):
            value = obj.member(attribute)
            if isinstance(value, types.ModuleType):
                return self.unsafe_undefined(obj, attribute)
            return value
        return super().getattr(obj, attribute)

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        if isinstance(obj, types.ModuleType) or isinstance(value, types.ModuleType):
            return False
        return bool(super().is_safe_attribute(obj, attr, value))

    def unsafe_undefined(self, obj: Any, attribute: str) -> Any:
        """An error at once, even where unknown names render empty (dbt's): Jinja's sandbox
        returns an undefined value, which such a template would print as nothing."""
        raise SecurityError(
            f"access to attribute {attribute!r} of a {type(obj).__name__!r} object is unsafe in a project's templates "
            "(they render in a sandbox that reaches no Python internals; use the documented context: ref, var, modules.datetime, ...)"
        )


class SafeModule:
    """Some members of a module, by name, for templates (dbt's `modules.datetime`, `modules.re`):
    no other attribute, and never the module itself."""

    def __init__(self, module: types.ModuleType, names: Iterable[str]):
        self.__dict__.update({name: getattr(module, name) for name in names})

    def __repr__(self) -> str:
        return f"<module members {', '.join(sorted(self.__dict__))}>"
