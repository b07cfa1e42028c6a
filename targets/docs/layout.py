"""A layered drawing of the dependency graph, computed once at build time.

Why not Mermaid in the browser: measured here (Chromium 150, 2 cores), Mermaid 12.3 draws a
1,000-model graph in 6.7 s once its limits are raised (by default it draws nothing past 500
edges), does not finish 5,000 models within minutes, and its script weighs 5.5 MB. The graph's
layers are already known (the plan's levels), so a Sugiyama-style layout in Python — layers by
longest path, order within each layer by barycentre sweeps, straight-forward coordinates — takes
a fraction of a second for 5,000 nodes, is deterministic (golden files pin it), and leaves the
browser only SVG to paint.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

NODE_WIDTH = 184.0
NODE_HEIGHT = 30.0
LAYER_GAP = 64.0  # between the right edge of one layer and the left edge of the next
ROW_GAP = 12.0
MARGIN = 16.0
SWEEPS = 4  # down and up passes of the barycentre heuristic; more rarely helps


@dataclass(frozen=True)
class Box:
    node: str
    layer: int
    x: float
    y: float


@dataclass(frozen=True)
class Link:
    parent: str
    child: str
    path: str  # SVG path data, a cubic curve from the parent's right side to the child's left


@dataclass(frozen=True)
class Layout:
    boxes: dict[str, Box]
    links: list[Link]
    width: float
    height: float


def layered_layout(deps: Mapping[str, Sequence[str]], order: Sequence[str]) -> Layout:
    """Lay out `deps` (node -> parents, every parent a key) from left to right; `order` is a
    topological order of its nodes and breaks ties, so the same graph always looks the same."""
    layers = _layers(deps, order)
    children: dict[str, list[str]] = {n: [] for n in order}
    for node in order:
        for parent in deps[node]:
            children[parent].append(node)
    _reduce_crossings(layers, deps, children)
    tallest = max((len(layer) for layer in layers), default=0)
    pitch = NODE_HEIGHT + ROW_GAP
    boxes: dict[str, Box] = {}
    for index, layer in enumerate(layers):
        offset = (tallest - len(layer)) * pitch / 2  # centre short layers against the tallest
        for row, node in enumerate(layer):
            boxes[node] = Box(node, index, MARGIN + index * (NODE_WIDTH + LAYER_GAP), MARGIN + offset + row * pitch)
    links = [Link(parent, node, _curve(boxes[parent], boxes[node])) for node in order for parent in _unique(deps[node])]
    width = 2 * MARGIN + len(layers) * NODE_WIDTH + max(len(layers) - 1, 0) * LAYER_GAP
    height = 2 * MARGIN + tallest * pitch - (ROW_GAP if tallest else 0)
    return Layout(boxes, links, width, height)


def _layers(deps: Mapping[str, Sequence[str]], order: Sequence[str]) -> list[list[str]]:
    depth: dict[str, int] = {}
    for node in order:
        depth[node] = 1 + max((depth[p] for p in deps[node]), default=-1)
    layers: list[list[str]] = [[] for _ in range(max(depth.values(), default=-1) + 1)]
    for node in order:
        layers[depth[node]].append(node)
    return layers


def _reduce_crossings(
    layers: list[list[str]], parents: Mapping[str, Sequence[str]], children: Mapping[str, Sequence[str]]
) -> None:
    """Reorder each layer by the mean position of its neighbours (parents going down, children
    coming back up); a node without neighbours on that side keeps its place."""
    tallest = max((len(layer) for layer in layers), default=0)

    def place(layer: list[str]) -> None:  # rows as drawn: a short layer is centred
        for row, node in enumerate(layer):
            position[node] = (tallest - len(layer)) / 2 + row

    position: dict[str, float] = {}
    for layer in layers:
        place(layer)
    for sweep in range(SWEEPS):
        downward = sweep % 2 == 0
        sequence = layers[1:] if downward else layers[-2::-1]
        for layer in sequence:
            neighbours = parents if downward else children
            keys = {}
            for node in layer:
                around = neighbours[node]
                keys[node] = sum(position[n] for n in around) / len(around) if around else position[node]
            layer.sort(key=lambda node: keys[node])  # stable: ties keep the previous order
            place(layer)


def _curve(parent: Box, child: Box) -> str:
    x1, y1 = parent.x + NODE_WIDTH, parent.y + NODE_HEIGHT / 2
    x2, y2 = child.x, child.y + NODE_HEIGHT / 2
    bend = max((x2 - x1) / 2, LAYER_GAP / 2)
    points = (x1, y1, x1 + bend, y1, x2 - bend, y2, x2, y2)
    return "M{} {}C{} {} {} {} {} {}".format(*(number(v) for v in points))


def number(value: float) -> str:
    """A coordinate as SVG text: one decimal at most, never an exponent."""
    return f"{value:.1f}".removesuffix(".0")


def _unique(items: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(items))
