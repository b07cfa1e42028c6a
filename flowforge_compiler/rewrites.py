"""FlowForge's own rewrites: where sqlglot's translation of a construct would change its meaning.

Each rewrite keeps the *source* dialect's semantics (DuckDB's, by default) on one engine, and is
a small class; an engine module lists its rewrites in its `EngineSpec`. A construct without a
faithful form raises `NotPortable`, which the compiler reports with the model's file and the
construct's name.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from sqlglot import exp

from flowforge_compiler.engine_sdk import DEFAULT_DIALECT


class NotPortable(Exception):
    """A construct with no faithful form on the target dialect."""

    def __init__(self, construct: str, target: str, hint: str):
        super().__init__(f"{construct} has no faithful {target} form")
        self.construct, self.target, self.hint = construct, target, hint


@dataclass(frozen=True)
class Rewrite:
    """Rewrites one kind of node written in the `source` dialect, for the engine that lists it."""

    source: ClassVar[str]
    target: ClassVar[str]  # the engine's dialect, for messages
    node: ClassVar[type[exp.Expr]]
    support: ClassVar[tuple[str, ...]] = ()  # statements the engine must run first (helper functions)

    def apply(self, node: exp.Expr) -> exp.Expr:
        raise NotImplementedError


def rewrite(
    tree: exp.Expr, source: str, rules: Sequence[Rewrite], support: set[str] | None = None
) -> exp.Expr:
    """`tree` with the engine's rewrites for its `source` dialect applied, children first (so a
    rewrite renders already rewritten arguments); the support statements they need go into
    `support`."""
    chosen = {r.node: r for r in rules if r.source == source}
    if not chosen:
        return tree

    def visit(node: exp.Expr) -> exp.Expr:
        for key, value in list(node.args.items()):
            if isinstance(value, exp.Expression):
                node.set(key, visit(value))
            elif isinstance(value, list):
                node.set(key, [visit(v) if isinstance(v, exp.Expression) else v for v in value])
        rule = chosen.get(type(node))
        if rule is None:
            return node
        if support is not None:
            support.update(rule.support)
        return rule.apply(node)

    return visit(tree)


def regexp_replace_flags(node: exp.Expr, target: str) -> str:
    """The flags of DuckDB's regexp_replace ('' when none are given): `g` (every match; without
    it, the first only) and `i` (case-insensitive) have faithful forms, others do not."""
    flags = node.args.get("modifiers")
    if flags is None:
        return ""
    if not (isinstance(flags, exp.Literal) and flags.is_string) or set(flags.name) - {"g", "i"}:
        raise NotPortable(f"regexp_replace(...) with the flags {flags.sql()}", target, "only 'g' and 'i' have a faithful form")
    return flags.name


class RegexpReplaceEveryMatch(Rewrite):
    """For engines whose REGEXP_REPLACE replaces every match and takes no flags argument:
    DuckDB's `'g'` flag is their only behaviour and `'i'` becomes an inline `(?i)`. Without `'g'`
    DuckDB replaces the first match only, which those engines cannot say. An engine module
    subclasses it with its own `target`."""

    source, node = DEFAULT_DIALECT, exp.RegexpReplace

    def apply(self, node: exp.Expr) -> exp.Expr:
        flags = regexp_replace_flags(node, self.target)
        if "g" not in flags:
            raise NotPortable(
                "regexp_replace(...) without the 'g' flag",
                self.target,
                f"DuckDB replaces the first match only, {self.target} every match: add the 'g' flag if every match should be replaced",
            )
        node.set("modifiers", None)
        node.set("single_replace", None)
        if "i" in flags:
            pattern = node.expression
            caseless = (
                exp.Literal.string("(?i)" + pattern.name)
                if isinstance(pattern, exp.Literal) and pattern.is_string
                else exp.DPipe(this=exp.Literal.string("(?i)"), expression=pattern)
            )
            node.set("expression", caseless)
        return node
