"""The dependency graph: deterministic topological order, levels, cycles, Mermaid."""

from __future__ import annotations

import hashlib
import heapq
import re
from collections.abc import Iterable, Mapping

from flowforge_compiler.errors import ModelCycleError

Deps = Mapping[str, Iterable[str]]


def _children(deps: Deps) -> dict[str, list[str]]:
    children: dict[str, list[str]] = {n: [] for n in deps}
    for node, parents in deps.items():
        for parent in parents:
            children[parent].append(node)
    return children


def topo_sort(deps: Deps) -> list[str]:
    """Kahn's algorithm; among ready nodes the smallest name goes first, so order is stable."""
    indegree = {n: len(set(p)) for n, p in deps.items()}
    children = _children({n: set(p) for n, p in deps.items()})
    ready = [n for n, d in indegree.items() if d == 0]
    heapq.heapify(ready)
    order: list[str] = []
    while ready:
        node = heapq.heappop(ready)
        order.append(node)
        for child in children[node]:
            indegree[child] -= 1
            if indegree[child] == 0:
                heapq.heappush(ready, child)
    if len(order) != len(indegree):
        raise ModelCycleError(find_cycle(deps, set(indegree) - set(order)))
    return order


def levels(deps: Deps) -> list[list[str]]:
    """Nodes grouped so that each depends only on nodes of earlier levels."""
    depth: dict[str, int] = {}
    for node in topo_sort(deps):
        depth[node] = 1 + max((depth[p] for p in deps[node]), default=-1)
    grouped: list[list[str]] = [[] for _ in range(max(depth.values(), default=-1) + 1)]
    for node in sorted(depth):
        grouped[depth[node]].append(node)
    return grouped


def find_cycle(deps: Deps, among: set[str]) -> list[str]:
    """One cycle inside `among`, in dependency order, starting and ending at its smallest node."""
    parents = {n: sorted(p for p in deps[n] if p in among) for n in among}
    # Walking parents from any node of a cyclic remainder must revisit a node.
    node = min(among)
    seen: dict[str, int] = {}
    path: list[str] = []
    while node not in seen:
        seen[node] = len(path)
        path.append(node)
        node = parents[node][0]
    cycle = path[seen[node]:]
    cycle.reverse()  # parent before child: a -> b means b depends on a
    start = cycle.index(min(cycle))
    cycle = cycle[start:] + cycle[:start]
    return [*cycle, cycle[0]]


def _reachable(edges: Mapping[str, Iterable[str]], start: str) -> set[str]:
    out: set[str] = set()
    stack = list(edges[start])
    while stack:
        current = stack.pop()
        if current not in out:
            out.add(current)
            stack.extend(edges[current])
    return out


def ancestors(deps: Deps, node: str) -> set[str]:
    return _reachable(deps, node)


def descendants(deps: Deps, node: str) -> set[str]:
    return _reachable(_children(deps), node)


def stable_id(name: str) -> str:
    """A stable id for any name (Mermaid node ids, docs page files): readable, and unique through
    a short hash of the exact name."""
    slug = re.sub(r"[^A-Za-z0-9_]", "_", name)[:40]
    return f"n_{slug}_{hashlib.sha1(name.encode()).hexdigest()[:6]}"


def mermaid(deps: Deps, kinds: Mapping[str, str] | None = None) -> str:
    """The graph as Mermaid flowchart text, nodes in topological order."""
    kinds = kinds or {}
    lines = ["flowchart LR"]
    order = topo_sort(deps)
    for node in order:
        label = node.replace('"', "#quot;")
        kind = kinds.get(node)
        shape = f'[("{label}")]' if kind == "seed" else (f'[["{label}"]]' if kind == "python" else f'["{label}"]')
        lines.append(f"  {stable_id(node)}{shape}")
    for node in order:
        for parent in sorted(set(deps[node])):
            lines.append(f"  {stable_id(parent)} --> {stable_id(node)}")
    return "\n".join(lines) + "\n"
