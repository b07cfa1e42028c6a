"""The docs site as files: what it holds, that it is offline and escaped, where it may be written,
and the build status it reads from a real DuckDB warehouse. Browser behaviour: test_browser.py."""

from __future__ import annotations

import re
import threading
import urllib.request
from pathlib import Path

import pytest

from flowforge_compiler.compile import compile_project
from flowforge_compiler.errors import ProjectFileError
from flowforge_compiler.profiles import resolve_profile
from flowforge_compiler.project import load_project
from targets.docs import site as site_module
from targets.docs.build_status import read_build_status
from targets.docs.catalog import build_catalog
from targets.docs.serve import site_server
from targets.docs.site import SITE_MARKER, write_site
from tests.compiler.golden import assert_golden

GOLDEN = Path(__file__).parent.parent / "golden" / "simple_duckdb_docs"
HOSTILE = "</script><script>alert(1)</script> & <b>bold</b>"
HOSTILE_PROJECT = {
    "project.yml": f"""
        name: 'h<i>"x'
        version: '1'
        models:
          'a"<b>&c.ff':
            description: "{HOSTILE}"
            tags: ["t'x", 'q"y']
            columns: {{id: '<img src=x onerror=alert(2)>'}}
        """,
    'models/a"<b>&c.ff.sql': "select 1 as id",
    "models/down.ff.sql": "select * from {{ ref('a\"<b>&c') }}",
    "sources.yml": "ext:\n  'ev<il>': {identifier: events, schema: raw, description: '<script>alert(3)</script>'}\n",
    "models/reads_ext.ff.sql": "select * from {{ source('ext', 'ev<il>') }}",
}


def compiled(root: Path, env: str | None = None):
    profile = resolve_profile(root, env, environ={})
    return compile_project(load_project(root), profile, environ={}, lineage=True), profile


def test_the_example_site_has_an_index_and_a_page_per_node_and_source(example_copy, tmp_path: Path) -> None:
    root = example_copy("simple_duckdb")
    plan, _ = compiled(root)
    site = write_site(plan, root, tmp_path / "site")
    index = site.index.read_text(encoding="utf-8")
    catalog = build_catalog(plan)
    assert len(catalog.entries) == len(plan.nodes) + len(plan.sources) == 9
    for entry in catalog.entries.values():
        assert (site.folder / entry.page).is_file()
        assert f'href="{entry.page}"' in index
    assert site.pages == 10
    users = (site.folder / catalog.entries["users.ff"].page).read_text(encoding="utf-8")
    assert "One row per CRM user" in users  # project.yml description
    assert "The normalised e-mail address." in users  # column description
    seed_page = catalog.entries["seed_users"].page
    assert f'<a href="../{seed_page}">seed_users</a>.email' in users  # lineage links to the node, not the source naming it
    assert "lower(trim(email))" in users  # the SQL
    python_page = (site.folder / catalog.entries["users_enriched"].page).read_text(encoding="utf-8")
    assert "def enrich(df: pd.DataFrame)" in python_page  # the Python source, read from the project
    source_page = (site.folder / catalog.entries["crm.users"].page).read_text(encoding="utf-8")
    assert "Users exported from the CRM" in source_page and "seed_users" in source_page


def test_the_site_is_offline_every_asset_ships_in_it(example_copy, tmp_path: Path) -> None:
    root = example_copy("simple_duckdb")
    site = write_site(compiled(root)[0], root, tmp_path / "site")
    pages = sorted(site.folder.rglob("*.html"))
    assert pages
    for page in pages:
        text = page.read_text(encoding="utf-8")
        # the SVG namespace is a name, not a download; nothing else may point off the page
        assert not re.search(r'(src|href)="(https?:)?//', text), page
        for reference in re.findall(r'(?:src|href)="([^"#]+)"', text):
            assert (page.parent / reference).resolve().is_file(), (page, reference)
    for asset in (site.folder / "assets").iterdir():
        assert "http://" not in asset.read_text(encoding="utf-8") and "https://" not in asset.read_text(encoding="utf-8")


def test_golden_index_and_model_page_for_the_example(example_copy, tmp_path: Path) -> None:
    root = example_copy("simple_duckdb")
    plan, _ = compiled(root)
    site = write_site(plan, root, tmp_path / "site")
    assert_golden(GOLDEN / "index.html", site.index.read_text(encoding="utf-8"))
    page = build_catalog(plan).entries["users.ff"].page
    assert_golden(GOLDEN / "users.ff.html", (site.folder / page).read_text(encoding="utf-8"))


def test_hostile_names_descriptions_and_tags_reach_html_escaped(make_project, tmp_path: Path) -> None:
    root = make_project(HOSTILE_PROJECT)
    plan, _ = compiled(root)
    site = write_site(plan, root, tmp_path / "site")
    texts = [p.read_text(encoding="utf-8") for p in site.folder.rglob("*.html")]
    everything = "\n".join(texts)
    for raw in ("<script>alert", "<img src=x", "<b>bold", 'a"<b>&c', "<il>", "<i>"):
        assert raw not in everything, raw
    assert "&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;" in everything
    assert all(p.name.isascii() and re.fullmatch(r"[A-Za-z0-9_.]+", p.name) for p in site.folder.rglob("*.html"))


def test_an_external_source_is_a_vertex_with_edges_to_its_readers(make_project, tmp_path: Path) -> None:
    root = make_project(HOSTILE_PROJECT)
    plan, _ = compiled(root)
    catalog = build_catalog(plan)
    assert catalog.entries["reads_ext.ff"].parents == ["ext.ev<il>"]
    assert catalog.entries["ext.ev<il>"].read_by == ["reads_ext.ff"]
    index = write_site(plan, root, tmp_path / "site").index.read_text(encoding="utf-8")
    source_key = catalog.entries["ext.ev<il>"].key
    assert f'data-p="{source_key}" data-c="{catalog.entries["reads_ext.ff"].key}"' in index


def test_a_folder_of_someone_elses_files_is_refused_and_kept(example_copy, tmp_path: Path) -> None:
    root = example_copy("simple_duckdb")
    out = tmp_path / "notes"
    out.mkdir()
    (out / "mine.md").write_text("keep me")
    with pytest.raises(ProjectFileError, match="not a FlowForge docs site"):
        write_site(compiled(root)[0], root, out)
    assert (out / "mine.md").read_text() == "keep me"
    with pytest.raises(ProjectFileError, match="project folder itself"):
        write_site(compiled(root)[0], root, root)


def test_a_new_site_replaces_the_old_and_a_failed_build_keeps_it(example_copy, tmp_path: Path, monkeypatch) -> None:
    root = example_copy("simple_duckdb")
    out = tmp_path / "site"
    extra = root / "models" / "extra.ff.sql"
    extra.write_text("select 1 as id\n")
    plan, _ = compiled(root)
    write_site(plan, root, out)
    assert (out / SITE_MARKER).is_file()
    stale = out / build_catalog(plan).entries["extra.ff"].page
    assert stale.is_file()
    extra.unlink()
    plan, _ = compiled(root)
    write_site(plan, root, out)
    assert not stale.exists()  # pages of removed models go with the old site
    before = (out / "index.html").read_text(encoding="utf-8")

    def broken(*args, **kwargs):
        raise RuntimeError("the disk filled up")

    monkeypatch.setattr(site_module, "_swap", broken)
    with pytest.raises(RuntimeError):
        write_site(plan, root, out)
    assert (out / "index.html").read_text(encoding="utf-8") == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["simple_duckdb", "site"]  # no staging folder left behind


def test_build_status_comes_from_the_warehouse_meta_table(example_copy, ffc) -> None:
    root = example_copy("simple_duckdb")
    plan, profile = compiled(root, "dev")
    warehouse = root / ".local" / "demo.duckdb"
    status = read_build_status(plan, profile)
    assert status.statuses == {} and "does not exist" in (status.problem or "")
    assert not warehouse.exists()  # looking did not create it
    assert ffc("run", root, "--env", "dev", "--select", "+users").exit_code == 0
    (root / "models" / "users.ff.sql").write_text("select id, email from {{ source('crm', 'users') }}\n")
    plan, profile = compiled(root, "dev")
    status = read_build_status(plan, profile)
    assert status.problem is None
    assert status.statuses["seed_users"].state == "current" and status.statuses["seed_users"].built_at
    assert status.statuses["users.ff"].state == "stale"  # edited since its build
    assert status.statuses["orders.ff"].state == "never"
    assert "mart_users.ff" in status.statuses


def test_an_unreachable_warehouse_is_a_reason_on_the_site_not_an_error(make_project, tmp_path: Path) -> None:
    root = make_project(
        {
            "models/a.ff.sql": "select 1 as id",
            "profiles.yml": "default:\n  engine: postgres\n  postgres: {dsn: 'postgresql+psycopg://u:s3cret@127.0.0.1:9/db', db_schema: s}\n",
        }
    )
    plan, profile = compiled(root)
    status = read_build_status(plan, profile)
    assert status.statuses == {} and "could not be read" in (status.problem or "")
    assert "s3cret" not in (status.problem or "")
    index = write_site(plan, root, tmp_path / "site", status).index.read_text(encoding="utf-8")
    assert "Build status not shown" in index and "s3cret" not in index
    assert "127.0.0.1" not in index and "'u'" not in index and ":9" not in index  # no host, port or user on a published page


def test_serve_answers_on_the_loopback_interface(example_copy, tmp_path: Path) -> None:
    root = example_copy("simple_duckdb")
    site = write_site(compiled(root)[0], root, tmp_path / "site")
    server = site_server(site.folder, 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        host, port = server.server_address[:2]
        assert host == "127.0.0.1"
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/index.html", timeout=10) as response:
            assert response.status == 200 and b"simple_duckdb" in response.read()
    finally:
        server.shutdown()
        server.server_close()


def test_a_model_page_shows_the_sql_as_written_and_as_the_engine_runs_it(example_copy, tmp_path: Path) -> None:
    """Compiled for PostgreSQL (no server needed to compile), the DuckDB-dialect model is
    transpiled: its page shows both texts, and says why there is no build status."""
    root = example_copy("simple_duckdb")
    profile = resolve_profile(root, "postgres", environ={})
    plan = compile_project(load_project(root), profile, environ={}, lineage=True)
    node = plan.node("users_enriched")
    assert node.sql_written is None  # a Python model has no SQL
    orders = plan.node("orders.ff")
    assert orders.sql_written is not None and orders.sql_written != orders.sql
    site = write_site(plan, root, tmp_path / "site", read_build_status(plan, profile))
    page = (site.folder / build_catalog(plan).entries["orders.ff"].page).read_text(encoding="utf-8")
    assert "SQL run on postgres (postgres)" in page and "SQL as written (duckdb)" in page
    assert page.index('id="sql-engine"') < page.index('id="sql-written"')
    assert "FF_PG_DSN" in site.index.read_text(encoding="utf-8")  # the status note names the unset variable


def test_a_stream_is_a_kind_of_its_own_with_its_settings_on_its_page(make_project, tmp_path: Path) -> None:
    from tests.targets.generated_code import STREAMING

    root = make_project(STREAMING)
    plan, _ = compiled(root)
    catalog = build_catalog(plan)
    assert "stream" in catalog.kinds and catalog.entries["fct_sessions_streaming"].kind == "stream"
    site = write_site(plan, root, tmp_path / "site")
    assert '<option value="stream">stream</option>' in site.index.read_text(encoding="utf-8")
    page = (site.folder / catalog.entries["fct_sessions_streaming"].page).read_text(encoding="utf-8")
    assert "events/events.jsonl" in page and "a new one after 30.0 minutes without events" in page
    assert "<code>session_id</code>" in page and "the same in every run" in page


def test_a_singular_tests_query_shows_as_code_escaped(make_project, tmp_path: Path) -> None:
    root = make_project(
        {
            "project.yml": None,
            "dbt_project.yml": "name: shop\nversion: '1'\n",
            "models/orders.sql": "select 1 as id",
            "tests/assert_no_script.sql": f"-- {HOSTILE}\nselect * from {{{{ ref('orders') }}}} where id < 0",
        }
    )
    plan, _ = compiled(root)
    page = next(p for p in write_site(plan, root, tmp_path / "site").folder.rglob("*orders*.html")).read_text(encoding="utf-8")
    assert "<code>sql</code> assert_no_script" in page
    assert '<pre class="param-sql"><code>-- &lt;/script&gt;&lt;script&gt;alert(1)' in page and "<script>alert" not in page


def test_no_page_shows_an_env_var_value_or_a_path_of_this_machine(make_project, tmp_path: Path) -> None:
    """A site is published: the SQL of a model that read env_var() holds the value (a token, a
    bucket), so its page names the variable instead; a warehouse not built yet is said in words."""
    root = make_project({
        "models/a.ff.sql": "select '{{ env_var(\"FF_TEST_TOKEN\") }}' as token",
        "models/b.ff.sql": "select 1 as id",
        "profiles.yml": f"default:\n  engine: duckdb\n  duckdb: {{path: {tmp_path / 'nowhere' / 'w.duckdb'}}}\n",
    })
    profile = resolve_profile(root, None, environ={})
    plan = compile_project(load_project(root), profile, environ={"FF_TEST_TOKEN": "tok-9f8e7d"})
    site = write_site(plan, root, tmp_path / "site", read_build_status(plan, profile))
    text = "".join(p.read_text(encoding="utf-8") for p in site.folder.rglob("*.html"))
    assert "tok-9f8e7d" not in text and "FF_TEST_TOKEN" in text
    assert "select 1 as id" in text.lower().replace("\n", " ") or "SELECT 1 AS id" in text  # other models keep their SQL
    assert str(tmp_path) not in text and "does not exist yet" in text


def test_a_model_page_says_when_its_sql_is_rendered_and_why_escaped(make_project, tmp_path: Path) -> None:
    root = make_project(
        {
            "project.yml": None,
            "dbt_project.yml": "name: shop\nversion: '1'\n",
            "models/orders.sql": "select 1 as id",
            "models/kinds.sql": "{% set r = run_query('select id from ' ~ ref('orders') ~ ' -- <script>') %}select id from {{ ref('orders') }}",
        }
    )
    plan, _ = compiled(root)
    catalog = build_catalog(plan)
    site = write_site(plan, root, tmp_path / "site")
    page = (site.folder / catalog.entries["kinds"].page).read_text(encoding="utf-8")
    assert "<dt>Rendered</dt><dd>at run time, in its task, with the warehouse: " in page and "models/kinds.sql:1: the query run while compiling reads" in page
    assert "The SQL is rendered when the model runs" in page and "<script>" not in page
    other = (site.folder / catalog.entries["orders"].page).read_text(encoding="utf-8")
    assert "<dt>Rendered</dt><dd>while compiling</dd>" in other
