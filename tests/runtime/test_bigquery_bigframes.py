"""BigQuery DataFrames (`use_bigframes: true`): its tests (tests/runtime/bigframes_env/) run in
an environment of their own, since bigframes wants rich<14 and constraints.txt pins rich 15;
this test makes that environment (tests/bigframes-requirements.txt, FlowForge from this repo)
and runs them there. None of them reaches BigQuery (see their module docstring)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import BIGFRAMES_REQUIREMENTS, REPO, tool_python

pytestmark = pytest.mark.bigquery


def test_bigframes_models_pass_in_their_own_environment() -> None:
    try:
        python = tool_python("bigframes", BIGFRAMES_REQUIREMENTS, with_flowforge=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the bigframes tests: their environment cannot be made ({exc})")
        pytest.skip(f"the bigframes environment cannot be made: {exc}")
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("FF_", "PYTEST_"))} | {"FF_IN_BIGFRAMES_ENV": "1"}
    run = subprocess.run(
        [str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", str(Path("tests") / "runtime" / "bigframes_env")],
        cwd=REPO, env=environ, capture_output=True, text=True, timeout=600,
    )
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-3000:]
    assert "3 passed" in run.stdout, run.stdout[-2000:]
