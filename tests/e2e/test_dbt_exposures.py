"""dbt's exposures: selectable as dbt selects them (held to `dbt ls -s +exposure:...`, recorded by
hand in exposures_expected.json) and shown in the docs site."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from flowforge_compiler.errors import ProjectFileError
from targets.docs.catalog import build_catalog
from targets.docs.site import write_site
from tests.compiler.helpers import compile_dir
from tests.conftest import REPO

pytestmark = pytest.mark.e2e
FIXTURES = REPO / "tests" / "fixtures" / "dbt"


def exposures_copy(tmp_path: Path) -> Path:
    project = tmp_path / "exposures"
    shutil.copytree(FIXTURES / "exposures", project)
    return project


def test_plus_exposure_selects_what_it_reads_as_dbt_ls_does(tmp_path: Path, ffc) -> None:
    expected = json.loads((FIXTURES / "exposures_expected.json").read_text(encoding="utf-8"))
    result = ffc("ls", exposures_copy(tmp_path), "--select", "+exposure:weekly_revenue")
    assert result.exit_code == 0, result.output
    listed = sorted(line.split()[0] for line in result.stdout.splitlines()[1:] if line.strip())
    assert listed == [name for name in expected["selected"] if name != "weekly_revenue"]  # an exposure is no node to build


def test_an_exposure_has_a_page_in_the_docs_site_and_its_models_link_to_it(tmp_path: Path) -> None:
    project = exposures_copy(tmp_path)
    plan = compile_dir(project)
    (exposure,) = plan.exposures
    assert (exposure.name, exposure.type, exposure.depends_on, exposure.owner["email"]) == ("weekly_revenue", "dashboard", ["revenue"], "data@example.com")
    catalog = build_catalog(plan)
    site = write_site(plan, project, tmp_path / "site")
    page = (site.folder / catalog.entries["exposure.weekly_revenue"].page).read_text(encoding="utf-8")
    assert "Revenue by the week" in page and "data@example.com" in page and "+exposure:weekly_revenue" in page
    assert "<b>weekly</b>" not in page and "&lt;b&gt;weekly&lt;/b&gt;" in page  # a description is text
    assert "exposure.weekly_revenue" in catalog.entries["revenue"].children


def test_an_exposure_reading_no_model_is_refused_naming_its_file(tmp_path: Path) -> None:
    project = exposures_copy(tmp_path)
    text = (project / "models" / "exposures.yml").read_text()
    (project / "models" / "exposures.yml").write_text(text.replace("ref('revenue')", "ref('no_such_model')"))
    with pytest.raises(ProjectFileError, match="depends on \"ref\\('no_such_model'\\)\", which names no model") as error:
        compile_dir(project)
    assert str(error.value.location) == "models/exposures.yml"
