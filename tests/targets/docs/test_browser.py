"""The docs site in a real browser: headless Chromium loads it from file://, with no network.

Each test saves screenshots under its own output folder (tmp_path/screenshots)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from flowforge_compiler.compile import compile_project
from flowforge_compiler.profiles import resolve_profile
from flowforge_compiler.project import load_project
from targets.docs.build_status import read_build_status
from targets.docs.catalog import build_catalog, graph_entries
from targets.docs.site import write_site
from tests.targets.docs.big_project import generate
from tests.targets.docs.test_site import HOSTILE, HOSTILE_PROJECT

pytestmark = pytest.mark.browser


def site_for(root: Path, out: Path, env: str | None = None):
    profile = resolve_profile(root, env, environ={})
    plan = compile_project(load_project(root), profile, environ={}, lineage=True)
    return plan, write_site(plan, root, out, read_build_status(plan, profile))


@pytest.fixture
def example_site(example_copy, ffc, tmp_path: Path):
    root = example_copy("simple_duckdb")
    assert ffc("build", root, "--env", "dev").exit_code == 0  # so the site shows build times
    return site_for(root, tmp_path / "site", "dev")


def shown_rows(page) -> list[str]:
    return page.eval_on_selector_all("#overview tbody tr:not([hidden]) td:first-child a", "links => links.map(a => a.textContent)")


def bright_nodes(page) -> list[str]:
    return page.eval_on_selector_all("svg a.node:not(.dim) title", "titles => titles.map(t => t.textContent.split(' (')[0])")


def test_the_example_index_draws_every_node_with_no_console_errors(example_site, browser_page) -> None:
    plan, site = example_site
    browser_page.open(site.index)
    page = browser_page.page
    drawn = page.eval_on_selector_all("svg.graph-svg a.node title", "titles => titles.map(t => t.textContent.split(' (')[0])")
    assert sorted(drawn) == sorted(n.id for n in plan.nodes)
    assert page.locator("svg.graph-svg g.edges path").count() == sum(len(set(n.depends_on)) for n in plan.nodes)
    assert page.locator("#overview tbody tr").count() == len(plan.nodes) + len(plan.sources)
    assert page.locator("#status-problem").count() == 0
    assert page.locator("#overview .status.current").count() == len(plan.nodes)  # built just now
    browser_page.shot("example-index")
    assert browser_page.errors == [] and browser_page.requests == []


def test_filters_by_text_tag_and_kind_change_the_table_and_the_graph(example_site, browser_page) -> None:
    _, site = example_site
    browser_page.open(site.index)
    page = browser_page.page
    page.fill("#filter-text", "gmail")  # matches users_enriched's description only
    assert shown_rows(page) == ["users_enriched"]
    assert bright_nodes(page) == ["users_enriched"]
    assert page.text_content("#filter-count") == "1 of 9 shown"
    browser_page.shot("filter-text")
    page.fill("#filter-text", "")
    page.select_option("#filter-tag", "marts")
    assert shown_rows(page) == ["mart_users.ff"]
    page.select_option("#filter-tag", "")
    page.select_option("#filter-kind", "python")
    assert sorted(shown_rows(page)) == ["mart_orders_enriched", "users_enriched"]
    assert sorted(bright_nodes(page)) == ["mart_orders_enriched", "users_enriched"]
    assert page.locator("svg g.edges path:not(.dim)").count() == 1  # users_enriched -> mart_orders_enriched
    page.select_option("#filter-kind", "")
    assert len(shown_rows(page)) == 9 and page.locator("svg a.node.dim").count() == 0
    assert browser_page.errors == []


def test_dark_mode_changes_the_colours_and_is_remembered(example_site, browser_page) -> None:
    _, site = example_site
    browser_page.open(site.index)
    page = browser_page.page

    def background() -> str:
        return page.evaluate("getComputedStyle(document.body).backgroundColor")

    light = background()
    assert page.get_attribute("html", "data-theme") == "light"
    page.click("#theme-toggle")
    assert page.get_attribute("html", "data-theme") == "dark"
    assert background() != light
    browser_page.shot("dark-index")
    page.reload()
    page.wait_for_selector("html[data-ready=true]")
    assert page.get_attribute("html", "data-theme") == "dark"  # kept in localStorage
    assert page.text_content("#theme-toggle") == "Light mode"


def test_a_graph_box_links_to_its_page_which_shows_sql_lineage_and_copies(example_site, browser_page) -> None:
    plan, site = example_site
    browser_page.open(site.index)
    page = browser_page.page
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.click("svg.graph-svg a.node:has(title:text-matches('^users\\.ff '))")
    page.wait_for_selector("html[data-ready=true]")
    assert page.text_content("h1").startswith("users.ff")
    assert "lower(trim(email))" in page.text_content("#sql-engine")
    assert page.locator("table.columns tbody tr").count() == 2
    assert page.locator("svg.graph-svg a.node").count() == 3  # seed_users -> users.ff -> users_enriched
    page.click("button[data-copy=sql-engine]")
    page.wait_for_function("document.querySelector('button[data-copy=sql-engine]').textContent !== 'Copy'")
    assert page.text_content("button[data-copy=sql-engine]") == "Copied"
    assert "lower(trim(email))" in page.evaluate("navigator.clipboard.readText()")
    browser_page.shot("users-page")
    page.click("ul.links a:text('users_enriched')")
    page.wait_for_selector("html[data-ready=true]")
    assert "def enrich" in page.text_content("#python-source")
    assert browser_page.errors == [] and browser_page.requests == []


def test_zoom_buttons_and_dragging_move_the_graph(example_site, browser_page) -> None:
    _, site = example_site
    browser_page.open(site.index)
    page = browser_page.page

    def transform() -> str:
        return page.get_attribute("svg.graph-svg g.viewport", "transform")

    start = transform()
    page.click("button[data-zoom=in]")
    zoomed = transform()
    assert zoomed != start and "scale(" in zoomed
    box = page.locator("svg.graph-svg").bounding_box()
    page.mouse.move(box["x"] + 20, box["y"] + 20)
    page.mouse.down()
    page.mouse.move(box["x"] + 120, box["y"] + 60, steps=5)
    page.mouse.up()
    assert transform() != zoomed
    assert page.text_content("h1") == "simple_duckdb"  # a drag is not a click on a box


def test_hostile_text_is_shown_as_text_and_never_runs(make_project, browser_page, tmp_path: Path) -> None:
    root = make_project(HOSTILE_PROJECT)
    plan, site = site_for(root, tmp_path / "site")
    page = build_catalog(plan).entries['a"<b>&c.ff'].page
    browser_page.open(site.folder / page)
    assert browser_page.page.text_content("p.description") == HOSTILE
    assert browser_page.page.text_content("h1").startswith('a"<b>&c.ff')
    browser_page.open(site.index)
    browser_page.page.fill("#filter-text", "<script>")
    assert shown_rows(browser_page.page) == ['a"<b>&c.ff', "ext.ev<il>"]
    assert browser_page.dialogs == [] and browser_page.errors == []


def test_a_generated_1000_model_project_renders_every_node(browser_page, tmp_path: Path, record_property) -> None:
    root = generate(tmp_path / "big", 1000)
    plan, site = site_for(root, tmp_path / "site")
    expected = {e.name for e in graph_entries(build_catalog(plan))}
    assert len(expected) == 1001
    started = time.perf_counter()
    browser_page.open(site.index)
    seconds = time.perf_counter() - started
    record_property("render_seconds_1000_models", round(seconds, 2))  # a figure, never asserted
    page = browser_page.page
    drawn = page.eval_on_selector_all("svg.graph-svg a.node title", "titles => titles.map(t => t.textContent.split(' (')[0])")
    assert set(drawn) == expected and len(drawn) == 1001
    assert page.locator("svg.graph-svg g.edges path").count() == sum(len(set(n.depends_on)) for n in plan.nodes)
    browser_page.shot("big-index-start")
    page.click("button[data-zoom=fit]")
    browser_page.shot("big-index-fit")
    page.select_option("#filter-tag", "hourly")
    assert len(shown_rows(page)) == 100 and len(bright_nodes(page)) == 100
    page.click("svg.graph-svg a.node:not(.dim) >> nth=5", force=True)
    page.wait_for_selector("html[data-ready=true]")
    assert page.locator("svg.graph-svg a.node.focus").count() == 1
    assert browser_page.errors == [] and browser_page.requests == []
