"""`--select`: node names and dbt-style graph operators (`+name`, `name+`, `+name+`, `tag:x`)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from difflib import get_close_matches

from flowforge_compiler.authoring import relation_for
from flowforge_compiler.errors import SelectionError
from flowforge_compiler.graph import ancestors, descendants
from flowforge_compiler.plan import Plan, PlanCheck


def select_nodes(plan: Plan, selectors: Sequence[str] | None) -> list[str]:
    """The selected node ids in plan order; no selectors selects everything."""
    order = [n.id for n in plan.nodes]
    if not selectors:
        return order
    deps = {n.id: n.depends_on for n in plan.nodes}
    chosen: set[str] = set()
    for raw in _split(selectors):
        chosen |= _resolve(plan, deps, raw)
    return [n for n in order if n in chosen]


def _split(selectors: Iterable[str]) -> list[str]:
    """`--select a b` and `--select "a,b"` both work, as in dbt."""
    return [part for s in selectors for part in s.replace(",", " ").split() if part]


def _resolve(plan: Plan, deps: dict[str, list[str]], selector: str) -> set[str]:
    if selector.startswith("tag:"):
        tag = selector[4:]
        found = {n.id for n in plan.nodes if tag in n.tags}
        if not found:
            tags = sorted({t for n in plan.nodes for t in n.tags})
            raise SelectionError(f"--select {selector}: no node has the tag {tag!r}", hint=f"tags in this project: {', '.join(tags) or 'none'}")
        return found
    up = selector.startswith("+")
    down = selector.endswith("+")
    name = selector.strip("+")
    node = _node_named(plan, name, selector)
    out = {node}
    if up:
        out |= ancestors(deps, node)
    if down:
        out |= descendants(deps, node)
    return out


def _node_named(plan: Plan, name: str, selector: str) -> str:
    ids = [n.id for n in plan.nodes]
    if name in ids:
        return name
    by_relation = {relation_for(i): i for i in ids}
    if name in by_relation:
        return by_relation[name]
    close = get_close_matches(name, sorted(set(ids) | set(by_relation)), n=3)
    raise SelectionError(
        f"--select {selector}: no node named {name!r}",
        hint=f"did you mean {', '.join(map(repr, close))}?" if close else "`ffc ls PROJECT` lists the nodes",
    )


def select_checks(plan: Plan, selectors: Sequence[str] | None) -> list[PlanCheck]:
    """Checks by tag (`batch` or `tag:batch`), check id, or the table/node they guard."""
    if not selectors:
        return list(plan.checks)
    wanted = _split(selectors)
    chosen: list[PlanCheck] = []
    for check in plan.checks:
        keys = {*check.tags, *(f"tag:{t}" for t in check.tags), check.id, check.table}
        keys |= {n for n in check.nodes} | {relation_for(n) for n in check.nodes}
        if keys & set(wanted):
            chosen.append(check)
    if not chosen:
        tags = sorted({t for c in plan.checks for t in c.tags})
        raise SelectionError(
            f"--select {' '.join(wanted)}: no check matches",
            hint=f"check tags: {', '.join(tags) or 'none'}; a check also matches its id or its table",
        )
    return chosen
