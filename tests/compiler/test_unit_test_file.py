"""Unit-test spec files: defaults deep-merge into cases; strict keys; rows or csv."""

from __future__ import annotations

import pytest

from flowforge_compiler.errors import ProjectFileError
from flowforge_compiler.unit_test_file import deep_merge, load_unit_tests


def test_deep_merge_merges_dicts_and_replaces_lists_and_scalars() -> None:
    base = {"inputs": {"a": {"rows": [1]}, "b": {"rows": [2]}}, "expect": {"order_by": ["id"], "relation": "x"}}
    override = {"inputs": {"a": {"rows": [9]}}, "expect": {"order_by": ["k"]}}
    assert deep_merge(base, override) == {
        "inputs": {"a": {"rows": [9]}, "b": {"rows": [2]}},
        "expect": {"order_by": ["k"], "relation": "x"},
    }


def test_example_specs_load_with_defaults_applied(example_copy) -> None:
    root = example_copy("simple_duckdb")
    cases = {(c.model, c.name): c for c in load_unit_tests(root)}
    override = cases[("users_enriched", "override_inputs")]
    assert [r["id"] for r in override.inputs["users"].rows] == [3, 4]
    assert override.expect.order_by == ["id"] and override.expect.relation == "users_enriched"
    assert cases[("mart_orders_enriched", "join_and_flag")].expect.any_order


def test_unknown_key_in_a_case_is_an_error_with_line(make_project) -> None:
    root = make_project(
        {"tests/unit/a.yml": "model: a\ncases:\n  - name: c\n    expect:\n      rows: []\n      order: [id]\n"}
    )
    with pytest.raises(ProjectFileError) as info:
        load_unit_tests(root)
    assert "unknown key 'order'" in info.value.message and "order_by" in info.value.message
    assert info.value.render().startswith("tests/unit/a.yml:6")


def test_input_needs_rows_or_csv(make_project) -> None:
    root = make_project(
        {"tests/unit/a.yml": "model: a\ncases:\n  - name: c\n    inputs: {x: {}}\n    expect: {rows: []}\n"}
    )
    with pytest.raises(ProjectFileError, match="one of `rows`, `csv` or `sql`"):
        load_unit_tests(root)


def test_duplicate_case_names_are_an_error(make_project) -> None:
    root = make_project(
        {"tests/unit/a.yml": "model: a\ncases:\n  - {name: c, expect: {rows: []}}\n  - {name: c, expect: {rows: []}}\n"}
    )
    with pytest.raises(ProjectFileError, match="case names repeat: c"):
        load_unit_tests(root)


def test_csv_paths_are_relative_to_the_spec_then_to_the_project_root(make_project) -> None:
    spec = "model: a\ncases:\n  - name: c\n    inputs: {x: {csv: data/x.csv}}\n    expect: {csv: beside.csv}\n"
    root = make_project({"tests/unit/a.yml": spec, "data/x.csv": "id\n1\n", "tests/unit/beside.csv": "id\n1\n"})
    [case] = load_unit_tests(root)
    assert case.csv_path("data/x.csv") == root / "data/x.csv"  # not beside the spec: the project root
    assert case.csv_path("beside.csv") == root / "tests/unit/beside.csv"  # beside the spec first


def test_a_spec_file_outside_the_project_is_refused(make_project, tmp_path) -> None:
    root = make_project({"models/a.ff.sql": "select 1"})
    outside = tmp_path / "elsewhere.yml"
    outside.write_text("model: a\ncases: []\n")
    with pytest.raises(ProjectFileError, match="outside the project folder"):
        load_unit_tests(root, [outside])
