"""`--select`: node names and dbt-style graph operators (`+name`, `name+`, `+name+`, `tag:x`,
`+exposure:x`).

As in dbt, a selector that matches nothing is a warning, not an error (the command then has
nothing to do and exits 0); a selector that is not written as one of the forms above is an
error.
"""

from __future__ import annotations

import fnmatch
import logging
import re
from collections.abc import Iterable, Sequence
from difflib import get_close_matches

from flowforge_compiler.authoring import relation_for
from flowforge_compiler.errors import SelectionError
from flowforge_compiler.graph import ancestors, descendants
from flowforge_compiler.plan import Plan, PlanCheck, PlanNode

log = logging.getLogger("flowforge")
_SELECTOR = re.compile(r"^(?P<up>\+?)(?P<name>[^+]+)(?P<down>\+?)$")


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
    if selector.lstrip("+").startswith("exposure:"):
        return _exposure(plan, deps, selector)
    if selector.startswith("tag:"):
        tag = selector[4:]
        found = {n.id for n in plan.nodes if tag in n.tags}
        if not found:
            tags = sorted({t for n in plan.nodes for t in n.tags})
            log.warning("--select %s: no node has the tag %r (tags in this project: %s)", selector, tag, ", ".join(tags) or "none")
        return found
    match = _SELECTOR.match(selector)
    if match is None or ":" in match.group("name"):
        raise SelectionError(
            f"--select {selector!r} is not a selector",
            hint="use name, +name (with ancestors), name+ (with descendants), +name+ or tag:x",
        )
    node = _node_named(plan, match.group("name"), selector)
    if node is None:
        return set()
    out = {node}
    if match.group("up"):
        out |= ancestors(deps, node)
    if match.group("down"):
        out |= descendants(deps, node)
    return out


def _exposure(plan: Plan, deps: dict[str, list[str]], selector: str) -> set[str]:
    """`+exposure:NAME`: what the exposure reads, and their ancestors, as dbt selects them; an
    exposure itself builds nothing, so `exposure:NAME` alone selects no node."""
    name = selector.lstrip("+")[len("exposure:") :]
    found = next((e for e in plan.exposures if e.name == name), None)
    if found is None:
        close = get_close_matches(name, [e.name for e in plan.exposures], n=3)
        log.warning("--select %s: no exposure named %r%s", selector, name, f"; did you mean {', '.join(map(repr, close))}?" if close else "")
        return set()
    if not selector.startswith("+"):
        log.warning("--select %s: an exposure builds nothing; +%s selects what it reads", selector, selector)
        return set()
    return {n for node in found.depends_on for n in {node, *ancestors(deps, node)}}


def _lookup(plan: Plan, name: str) -> tuple[str | None, list[str]]:
    """A node id for what users write (its id or its relation), else close names."""
    found = plan.find(name)
    if found is not None:
        return found.id, []
    return None, get_close_matches(name, sorted({key for n in plan.nodes for key in (n.id, n.relation)}), n=3)


def _tip(close: list[str]) -> str:
    return f"did you mean {', '.join(map(repr, close))}?" if close else "`ffc ls PROJECT` lists the nodes"


def _node_named(plan: Plan, name: str, selector: str) -> str | None:
    found, close = _lookup(plan, name)
    if found is None:
        log.warning("--select %s: no node named %r; %s", selector, name, _tip(close))
    return found


def unmatched_globs(plan: Plan, globs: Sequence[str]) -> list[str]:
    """The `--rebuild` globs that name no node (by id or relation)."""
    names = [name for n in plan.nodes for name in (n.id, n.relation)]
    return [g for g in globs if not any(fnmatch.fnmatchcase(name, g) for name in names)]


def select_checks(plan: Plan, selectors: Sequence[str] | None) -> list[PlanCheck]:
    """Checks by tag (`batch` or `tag:batch`), check id, or the table/node they guard."""
    if not selectors:
        return list(plan.checks)
    wanted = _split(selectors)
    chosen: list[PlanCheck] = []
    for check in plan.checks:
        keys = {*check.tags, *(f"tag:{t}" for t in check.tags), check.id, check.table}
        keys |= set(check.nodes) | {relation_for(n) for n in check.nodes}
        if keys & set(wanted):
            chosen.append(check)
    if not chosen:
        tags = sorted({t for c in plan.checks for t in c.tags})
        log.warning(
            "--select %s: no check matches (check tags: %s; a check also matches its id or its table)",
            " ".join(wanted), ", ".join(tags) or "none",
        )
    return chosen


def find_node(plan: Plan, name: str) -> PlanNode:
    """One node by id or relation; an unknown name is an error with suggestions."""
    found, close = _lookup(plan, name)
    if found is None:
        raise SelectionError(f"no node named {name!r}", hint=_tip(close))
    return plan.node(found)
