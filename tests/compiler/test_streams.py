"""project.yml `streams:`: strict settings with their lines, a stream node in the plan named after
its table, and the engines and names it refuses."""

from __future__ import annotations

from dataclasses import replace

import pytest

from flowforge_compiler.compile import compile_project
from flowforge_compiler.errors import ProjectFileError
from flowforge_compiler.profiles import resolve_profile
from flowforge_compiler.project import load_project

STREAM = """name: s
version: '1'
streams:
  - name: web
    source: {{type: file_tail, path: {path}}}
    sessionize: {{user_column: user_id, time_column: ts, gap_minutes: {gap}}}
    into: {into}
    tags: [streaming]
"""


def plan_of(root, environ=None):
    environ = environ or {}
    return compile_project(load_project(root), resolve_profile(root, None, environ=environ), environ=environ)


def test_a_stream_is_a_node_named_after_its_table_that_models_can_ref(make_project) -> None:
    root = make_project(
        {"project.yml": STREAM.format(path="events/*.jsonl", gap=30, into="clicks"), "models/daily.ff.sql": "select * from {{ ref('clicks') }}"}
    )
    plan = plan_of(root)
    node = plan.node("clicks")
    assert (node.kind, node.materialization.type, node.relation, node.tags) == ("stream", "stream", "clicks", ["streaming"])
    assert node.stream.name == "web" and node.stream.source.path == "events/*.jsonl" and node.stream.gap_minutes == 30
    assert plan.node("daily.ff").depends_on == ["clicks"]
    changed = make_project({"project.yml": STREAM.format(path="events/*.jsonl", gap=45, into="clicks")})
    assert plan_of(changed).node("clicks").fingerprint != node.fingerprint  # new settings: new sessions


@pytest.mark.parametrize(
    ("path", "gap", "into", "line", "message"),
    [
        ("e.jsonl", 0, "clicks", 6, "greater than 0"),
        ("e.jsonl", 30, "'bad name'", 7, "not a valid table name"),
    ],
)
def test_bad_stream_settings_name_their_line(make_project, path, gap, into, line, message) -> None:
    root = make_project({"project.yml": STREAM.format(path=path, gap=gap, into=into)})
    with pytest.raises(ProjectFileError, match=message) as caught:
        load_project(root)
    assert caught.value.location is not None and caught.value.location.line == line


@pytest.mark.parametrize("path", ["../up.jsonl", "/etc/passwd", "events/../../up/*.jsonl", "linked/*.jsonl"])
def test_a_stream_path_leaving_the_project_is_refused_with_its_line(make_project, tmp_path, path) -> None:
    root = make_project({"project.yml": STREAM.format(path=path, gap=30, into="clicks")})
    (root / "linked").symlink_to(tmp_path, target_is_directory=True)
    with pytest.raises(ProjectFileError, match="leaves the project folder") as caught:
        plan_of(root)
    assert caught.value.location is not None and (caught.value.location.path, caught.value.location.line) == ("project.yml", 5)
    assert "allow_outside" in (caught.value.hint or "")


def test_a_folder_the_profile_allows_is_named_as_written_in_the_plan(make_project, tmp_path) -> None:
    root = make_project({"project.yml": STREAM.format(path="../logs/*.jsonl", gap=30, into="clicks")})
    profile = resolve_profile(root)
    allowed = replace(profile, allow_outside=("../logs",))
    plan = compile_project(load_project(root), allowed)
    assert plan.node("clicks").stream.source.within == "../logs"
    inside = compile_project(load_project(make_project({"project.yml": STREAM.format(path="e.jsonl", gap=30, into="clicks")})), profile)
    assert inside.node("clicks").stream.source.within == "."
    unchanged = compile_project(load_project(root), replace(allowed, allow_outside=("/elsewhere", "../logs")))
    assert unchanged.node("clicks").fingerprint == plan.node("clicks").fingerprint  # allowing more rebuilds nothing


def test_an_unknown_key_in_a_stream_is_an_error(make_project) -> None:
    root = make_project({"project.yml": STREAM.format(path="e.jsonl", gap=30, into="c") + "    watermark: 5\n"})
    with pytest.raises(ProjectFileError, match="watermark"):
        load_project(root)


def test_a_stream_may_not_build_a_models_relation(make_project) -> None:
    root = make_project({"project.yml": STREAM.format(path="e.jsonl", gap=30, into="users"), "models/users.ff.sql": "select 1 as id"})
    with pytest.raises(ProjectFileError, match="would both build the relation 'users'"):
        load_project(root)


def test_an_engine_without_transactions_cannot_run_a_stream(make_project) -> None:
    root = make_project({"project.yml": STREAM.format(path="e.jsonl", gap=30, into="clicks")})
    with pytest.raises(ProjectFileError, match="has no transactions"):
        plan_of(root, {"FF_ENGINE": "databricks_spark"})
