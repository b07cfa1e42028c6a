"""The static docs site: `index.html`, a page per node and per source, and the assets they load.

Everything the pages need ships in this package (no CDN: the site works offline and from
`file://`); every value from the project reaches HTML through Jinja's autoescaping, and data for
scripts through `tojson`, which escapes `<`, `>`, `&` and quotes. The site is written to a
sibling folder first and swapped in, so a failed build leaves the previous site whole, and a
folder is replaced only when it carries the site's marker.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2

from flowforge_compiler import __version__
from flowforge_compiler.errors import ProjectFileError
from flowforge_compiler.paths import project_file
from flowforge_compiler.plan import Plan
from flowforge_compiler.profiles import Profile
from targets.docs.build_status import StatusRead
from targets.docs.catalog import Catalog, Entry, build_catalog, graph_entries
from targets.docs.layout import NODE_HEIGHT, NODE_WIDTH, Layout, layered_layout, number
from targets.output import replaceable
from targets.target import Target, Written

SITE_MARKER = ".flowforge-docs"
HERE = Path(__file__).parent
ASSETS = ("docs.css", "docs.js")
LABEL_CHARACTERS = 26  # what fits in a box of NODE_WIDTH at the stylesheet's font size


@dataclass(frozen=True)
class Site:
    folder: Path
    pages: int

    @property
    def index(self) -> Path:
        return self.folder / "index.html"


def write_site(plan: Plan, root: Path, out: Path, status: StatusRead | None = None) -> Site:
    """Write the site for `plan` (a project at `root`, whose Python model files it shows) into
    `out`, replacing an earlier site there."""
    hint = "choose another --out (or docs.dag_dir in project.yml), or empty the folder"
    if out.exists() and out.resolve() == root.resolve():
        raise ProjectFileError(f"refusing to write the docs site into the project folder itself ({out})", hint=hint)
    old = replaceable(out, SITE_MARKER, "a FlowForge docs site", hint)
    catalog = build_catalog(plan, status.statuses if status else None)
    staging = out.parent / f".{out.name}.building"
    if staging.exists():
        shutil.rmtree(staging)
    try:
        pages = _render(plan, root, catalog, staging, status)
        _swap(staging, out, old)
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    return Site(out, pages)


def _render(plan: Plan, root: Path, catalog: Catalog, folder: Path, status: StatusRead | None) -> int:
    env = _environment()
    (folder / "assets").mkdir(parents=True)
    for name in ASSETS:
        shutil.copyfile(HERE / "assets" / name, folder / "assets" / name)
    (folder / SITE_MARKER).write_text(
        f"Written by ffc {__version__} (ffc docs). FlowForge replaces this folder on every build; do not keep files here.\n",
        encoding="utf-8",
    )
    common = {"plan": plan, "catalog": catalog, "version": __version__}
    drawn = graph_entries(catalog)
    index = env.get_template("index.html.j2").render(
        **common, root="", graph=_graph(drawn), status_problem=status.problem if status else None, entries=drawn
    )
    (folder / "index.html").write_text(index, encoding="utf-8")
    pages = {"source": env.get_template("source.html.j2"), "exposure": env.get_template("exposure.html.j2")}
    node_page = env.get_template("node.html.j2")
    for kind in ("nodes", "sources", "exposures"):
        (folder / kind).mkdir()
    for entry in catalog.entries.values():
        neighbourhood = _neighbourhood(catalog, entry)
        template = pages.get(entry.kind, node_page)
        html = template.render(
            **common,
            root="../",
            entry=entry,
            graph=_graph(neighbourhood, focus=entry.name),
            python_source=_python_source(root, entry),
        )
        (folder / entry.page).write_text(html, encoding="utf-8")
    return 1 + len(catalog.entries)


def _swap(staging: Path, out: Path, old: bool) -> None:
    if not old:
        if out.exists():
            out.rmdir()  # empty: replaceable() said so
        staging.rename(out)
        return
    retired = out.parent / f".{out.name}.old"
    if retired.exists():
        shutil.rmtree(retired)
    out.rename(retired)
    try:
        staging.rename(out)
    except OSError:
        retired.rename(out)  # the old site back in place
        raise
    shutil.rmtree(retired)


@dataclass(frozen=True)
class Graph:
    """A laid-out graph and its vertices, as the template draws it."""

    layout: Layout
    entries: list[Entry]
    focus: str | None

    @property
    def edges(self) -> Iterable[tuple[Entry, Entry, str]]:
        by_name = {e.name: e for e in self.entries}
        return ((by_name[link.parent], by_name[link.child], link.path) for link in self.layout.links)


def _graph(entries: list[Entry], focus: str | None = None) -> Graph:
    names = {e.name for e in entries}
    deps = {e.name: [p for p in e.parents if p in names] for e in entries}
    order = [e.name for e in entries if e.kind == "source"] + [e.name for e in entries if e.kind != "source"]
    return Graph(layered_layout(deps, order), entries, focus)


def _neighbourhood(catalog: Catalog, entry: Entry) -> list[Entry]:
    """The entry with its direct parents and children (a source: its readers), in catalog order
    (keys are `n<position>`), without a pass over every entry per page."""
    near = {entry.name, *entry.parents, *entry.children, *entry.read_by}
    return sorted((catalog.entries[name] for name in near), key=lambda e: int(e.key[1:]))


def _python_source(root: Path, entry: Entry) -> str | None:
    node = entry.node
    if node is None or node.python is None:
        return None
    relative = project_file(root, root / node.python.path, node.python.path)
    return (root / relative).read_text(encoding="utf-8")


@lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["label"] = lambda text: text if len(text) <= LABEL_CHARACTERS else text[: LABEL_CHARACTERS - 1] + "…"
    env.filters["num"] = number
    env.filters["when"] = lambda seconds: datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M UTC")
    env.filters["paragraphs"] = lambda text: [p.strip() for p in (text or "").split("\n\n") if p.strip()]
    env.globals.update(NODE_WIDTH=NODE_WIDTH, NODE_HEIGHT=NODE_HEIGHT)
    return env


class DocsTarget(Target):
    """`ffc compile --target docs --out DIR`: the site from the plan alone (no build status;
    `ffc docs` adds it from the warehouse)."""

    name = "docs"
    help = "the HTML docs site, in --out (ffc docs also shows each node's last build)"
    lineage = True

    def write(self, plan: Plan, root: Path, out: Path | None, profile: Profile, options: Any) -> Written:
        assert out is not None
        site = write_site(plan, root, out)
        return Written(site.index, f"wrote {site.index} ({site.pages} pages)")
