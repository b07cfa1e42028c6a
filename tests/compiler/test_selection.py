"""--select: names, +name, name+, +name+, tag:x, comma lists, and clear errors."""

from __future__ import annotations

import pytest

from flowforge_compiler.errors import SelectionError
from flowforge_compiler.selection import select_nodes
from tests.compiler.helpers import compile_dir


@pytest.fixture
def plan(make_project):
    return compile_dir(
        make_project(
            {
                "project.yml": "name: t\nversion: '1'\nmodels:\n  c.ff: {tags: [marts]}\n",
                "seeds/s.csv": "x\n1\n",
                "models/a.ff.sql": "select * from {{ ref('s') }}",
                "models/b.ff.sql": "select * from {{ ref('a') }}",
                "models/c.ff.sql": "{{ config(tags=['nightly']) }}select * from {{ ref('b') }}",
                "models/other.ff.sql": "select 1",
            }
        )
    )


@pytest.mark.parametrize(
    ("selectors", "expected"),
    [
        (None, ["other.ff", "s", "a.ff", "b.ff", "c.ff"]),
        (["b.ff"], ["b.ff"]),
        (["b"], ["b.ff"]),
        (["+b"], ["s", "a.ff", "b.ff"]),
        (["b+"], ["b.ff", "c.ff"]),
        (["+b+"], ["s", "a.ff", "b.ff", "c.ff"]),
        (["tag:marts"], ["c.ff"]),
        (["tag:nightly", "other"], ["other.ff", "c.ff"]),
        (["a,other"], ["other.ff", "a.ff"]),
    ],
)
def test_selectors(plan, selectors, expected) -> None:
    assert select_nodes(plan, selectors) == expected


def test_unknown_name_warns_with_suggestions_and_selects_nothing(plan, caplog) -> None:
    assert select_nodes(plan, ["bb+"]) == []
    assert "no node named 'bb'" in caplog.text and "did you mean" in caplog.text


def test_unknown_tag_warns_and_lists_tags(plan, caplog) -> None:
    assert select_nodes(plan, ["tag:nope"]) == []
    assert "tags in this project: marts, nightly" in caplog.text


@pytest.mark.parametrize("selector", ["++a", "a++", "+", "+a+b", "path:models/x"])
def test_malformed_selectors_are_errors(plan, selector: str) -> None:
    with pytest.raises(SelectionError, match="is not a selector"):
        select_nodes(plan, [selector])
