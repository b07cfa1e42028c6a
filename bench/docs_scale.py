"""The docs site at scale: `ffc docs` build time and first render in headless Chromium.

For 1,000 and 5,000 synthetic models (bench/synthetic.py): the whole `ffc docs` process, cold
(compile with column lineage, layout, every page) and again with the plan cached; the site's
size; and in Chromium, from navigation start to the page being set up and painted (the graph
laid out as SVG, filters wired). With `--mermaid PATH/mermaid.min.js` (npm: mermaid) the same
graph is also drawn by Mermaid, its limits raised, for the comparison the layout's choice rests on.

    python bench/docs_scale.py [--sizes 1000 5000] [--mermaid mermaid.min.js]
"""

from __future__ import annotations

import argparse
import html
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parent.parent))
from synthetic import generate  # noqa: E402

from tests.targets.docs.chromium import CHROMIUM_FLAGS, chromium_path  # noqa: E402

MERMAID_PAGE = """<!doctype html><html><body><pre class="mermaid">{text}</pre><script src="mermaid.min.js"></script>
<script>
const started = performance.now();
mermaid.initialize({{startOnLoad: false, maxEdges: 1000000, maxTextSize: 100000000}});
mermaid.run().then(() => {{ window.drawnMs = performance.now() - started; }}, (e) => {{ window.drawnMs = -1; }});
</script></body></html>"""


def ffc(*args: str) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "flowforge.cli", *args], check=True, capture_output=True)
    return time.perf_counter() - started


def folder_mb(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 1e6


def render_ms(browser, index: Path, runs: int = 3) -> list[float]:
    """Navigation start to set-up-and-painted, in fresh pages."""
    figures = []
    for _ in range(runs):
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.goto(index.as_uri(), timeout=600_000)
        page.wait_for_selector("html[data-ready=true]", timeout=600_000)
        figures.append(page.evaluate("window.flowforgeDocs.sinceStartMs"))
        page.close()
    return figures


def mermaid_ms(browser, project: Path, mermaid_js: Path, work: Path) -> float:
    text = subprocess.run(
        [sys.executable, "-m", "flowforge.cli", "dag", str(project), "-q"], check=True, capture_output=True, text=True
    ).stdout
    shutil.copyfile(mermaid_js, work / "mermaid.min.js")
    page_file = work / "mermaid.html"
    page_file.write_text(MERMAID_PAGE.format(text=html.escape(text)), encoding="utf-8")
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.goto(page_file.as_uri(), wait_until="commit", timeout=900_000)
    page.wait_for_function("window.drawnMs !== undefined", timeout=900_000, polling=1000)
    drawn = float(page.evaluate("window.drawnMs"))
    page.close()
    return drawn


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 5000])
    parser.add_argument("--mermaid", type=Path, help="mermaid.min.js, to draw the same graphs with Mermaid")
    parser.add_argument("--chromium", default=chromium_path(), help="the Chromium to drive (default: FF_TEST_CHROMIUM, or chromium on PATH)")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    rows = []
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=args.chromium, args=CHROMIUM_FLAGS)
        for size in args.sizes:
            project = generate(Path(tmp) / f"p{size}", size)
            site = Path(tmp) / f"site{size}"
            cold = ffc("docs", str(project), "--out", str(site), "--no-status")
            warm = ffc("docs", str(project), "--out", str(site), "--no-status")
            renders = render_ms(browser, site / "index.html")
            drawn = mermaid_ms(browser, project, args.mermaid, Path(tmp)) if args.mermaid else None
            rows.append((size, cold, warm, folder_mb(site), (site / "index.html").stat().st_size / 1e6, renders, drawn))
        browser.close()
    print(f"ffc docs on synthetic projects (10% Python models), Chromium {args.chromium}:")
    print("  models  build cold s  build cached s  site MB  index MB  first render ms (median of 3)" + ("  Mermaid ms" if args.mermaid else ""))
    for size, cold, warm, site_mb, index_mb, renders, drawn in rows:
        mermaid = f"  {drawn:10.0f}" if drawn is not None else ""
        print(f"  {size:6d}  {cold:12.2f}  {warm:14.2f}  {site_mb:7.1f}  {index_mb:8.1f}  {statistics.median(renders):8.0f}  (runs: {', '.join(f'{r:.0f}' for r in renders)}){mermaid}")


if __name__ == "__main__":
    main()
