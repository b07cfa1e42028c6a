"""Reading YAML: aliases may reuse values, not blow a document up; depth is bounded too."""

from __future__ import annotations

import pytest

from flowforge_compiler.errors import ProjectFileError
from flowforge_compiler.yaml_files import MAX_EXPANDED_VALUES, parse_yaml


def test_aliases_that_reuse_values_are_read_as_written() -> None:
    data, _ = parse_yaml("base: &b {a: 1, b: [1, 2]}\none: *b\ntwo: {<<: *b, c: 3}\n", "x.yml")
    assert data == {"base": {"a": 1, "b": [1, 2]}, "one": {"a": 1, "b": [1, 2]}, "two": {"a": 1, "b": [1, 2], "c": 3}}


@pytest.mark.parametrize(
    ("text", "says"),
    [
        # ten values, each level ten times the one before: 10**7 values from eight short lines
        ("a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 10)}]\n" for i in range(6)), f"past {MAX_EXPANDED_VALUES:,} values"),
        ("a: &a [1, *a]\n", "expand it past"),  # a value that contains itself
        ("v: " + "[" * 5000 + "]" * 5000 + "\n", "nested too deeply"),
    ],
)
def test_a_document_that_would_expand_without_bound_is_refused_naming_the_file(text: str, says: str) -> None:
    with pytest.raises(ProjectFileError) as info:
        parse_yaml(text, "project.yml")
    assert says in info.value.render() and info.value.render().startswith("project.yml")
