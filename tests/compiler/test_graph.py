"""The graph: deterministic order, levels, cycles named in order, Mermaid with stable ids."""

from __future__ import annotations

import pytest

from flowforge_compiler.errors import ModelCycleError
from flowforge_compiler.graph import ancestors, descendants, levels, mermaid, stable_id, topo_sort
from tests.compiler.helpers import compile_dir

DEPS = {"c": ["a", "b"], "b": ["a"], "a": [], "d": [], "e": ["d", "c"]}


def test_topo_sort_is_deterministic_with_name_tie_break() -> None:
    assert topo_sort(DEPS) == ["a", "b", "c", "d", "e"]
    reordered = dict(reversed(list(DEPS.items())))
    assert topo_sort(reordered) == topo_sort(DEPS)


def test_levels_group_independent_nodes() -> None:
    assert levels(DEPS) == [["a", "d"], ["b"], ["c"], ["e"]]


def test_ancestors_and_descendants() -> None:
    assert ancestors(DEPS, "e") == {"a", "b", "c", "d"}
    assert descendants(DEPS, "b") == {"c", "e"}


def test_cycle_is_named_in_order() -> None:
    with pytest.raises(ModelCycleError) as info:
        topo_sort({"a.ff": ["b"], "b": ["a.ff"], "z": ["a.ff"]})
    assert info.value.message == "Cycle detected among nodes: a.ff -> b -> a.ff"


def test_longer_cycle_through_a_project(make_project) -> None:
    root = make_project(
        {
            "models/a.ff.sql": "select * from {{ ref('c') }}",
            "models/b.ff.sql": "select * from {{ ref('a') }}",
            "models/c.ff.sql": "select * from {{ ref('b') }}",
            "models/ok.ff.sql": "select 1",
        }
    )
    with pytest.raises(ModelCycleError) as info:
        compile_dir(root)
    assert info.value.message == "Cycle detected among nodes: a.ff -> b.ff -> c.ff -> a.ff"
    assert info.value.exit_code == 1


def test_stable_ids_are_stable_and_distinct() -> None:
    assert stable_id("users.ff") == stable_id("users.ff")
    assert stable_id("users.ff") != stable_id("users_ff")
    text = mermaid({"a": [], 'q"x': ["a"]}, {"a": "seed"})
    assert text.splitlines()[0] == "flowchart LR"
    assert f'{stable_id("a")}[("a")]' in text
    hostile = 'q"x'
    assert f"{stable_id('a')} --> {stable_id(hostile)}" in text
    assert "#quot;" in text
