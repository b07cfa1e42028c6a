"""The layered layout of the docs graph: pure, deterministic, edges left to right, no overlaps."""

from __future__ import annotations

import random

from targets.docs.layout import NODE_HEIGHT, NODE_WIDTH, layered_layout, number


def _random_dag(nodes: int, seed: int) -> tuple[dict[str, list[str]], list[str]]:
    rng = random.Random(seed)
    order = [f"m{i:03d}" for i in range(nodes)]
    deps = {name: rng.sample(order[:i], k=min(i, rng.randint(0, 3))) for i, name in enumerate(order)}
    return deps, order


def _crossings(layout, deps) -> int:
    """Pairs of links between the same two layers whose ends are in opposite orders."""
    spans = [(layout.boxes[p].layer, layout.boxes[c].layer, layout.boxes[p].y, layout.boxes[c].y) for c in deps for p in deps[c]]
    count = 0
    for i, (l1, l2, a1, b1) in enumerate(spans):
        for m1, m2, a2, b2 in spans[i + 1 :]:
            if (l1, l2) == (m1, m2) and (a1 - a2) * (b1 - b2) < 0:
                count += 1
    return count


def test_every_link_runs_left_to_right_and_boxes_never_overlap() -> None:
    deps, order = _random_dag(300, seed=1)
    layout = layered_layout(deps, order)
    assert set(layout.boxes) == set(order)
    assert len(layout.links) == sum(len(set(p)) for p in deps.values())
    for link in layout.links:
        assert layout.boxes[link.parent].x + NODE_WIDTH < layout.boxes[link.child].x
    seen = {(round(b.x), round(b.y)) for b in layout.boxes.values()}
    assert len(seen) == len(order)
    for box in layout.boxes.values():
        assert box.x + NODE_WIDTH <= layout.width and box.y + NODE_HEIGHT <= layout.height


def test_layers_are_longest_paths_from_the_roots() -> None:
    deps = {"a": [], "b": ["a"], "c": ["b"], "d": ["a", "c"], "e": []}
    layout = layered_layout(deps, ["a", "b", "c", "d", "e"])
    assert {n: b.layer for n, b in layout.boxes.items()} == {"a": 0, "b": 1, "c": 2, "d": 3, "e": 0}


def test_the_same_graph_gives_the_same_drawing() -> None:
    deps, order = _random_dag(200, seed=2)
    assert layered_layout(deps, order) == layered_layout({k: list(v) for k, v in deps.items()}, list(order))


def test_barycentre_sweeps_untangle_a_crossed_graph() -> None:
    # two chains whose second layer is listed in the crossing order
    deps = {"a": [], "b": [], "y": ["b"], "x": ["a"], "y2": ["y"], "x2": ["x"]}
    order = ["a", "b", "y", "x", "y2", "x2"]
    layout = layered_layout(deps, order)
    assert _crossings(layout, deps) == 0
    deps, order = _random_dag(120, seed=3)
    untangled = _crossings(layered_layout(deps, order), deps)
    assert untangled < _crossings(_unswept(deps, order), deps)


def _unswept(deps, order):
    """The layout without the barycentre sweeps: layers in the given order."""
    import targets.docs.layout as layout_module

    saved = layout_module.SWEEPS
    layout_module.SWEEPS = 0
    try:
        return layered_layout(deps, order)
    finally:
        layout_module.SWEEPS = saved


def test_coordinates_are_written_without_exponents() -> None:
    assert number(1234567.0) == "1234567"
    assert number(12.34) == "12.3"
    assert number(16.0) == "16"
