"""The code identity behind every compile-cache key: editing or reinstalling code starts afresh."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from flowforge_compiler import code_identity as identity
from flowforge_compiler.engine_sdk import engine


@pytest.fixture(autouse=True)
def _fresh() -> None:
    identity._identity.cache_clear()


def touch(path: Path) -> None:
    info = path.stat()
    os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns + 1_000_000_000))
    identity._identity.cache_clear()


def test_an_edited_engine_module_changes_the_identity(tmp_path, monkeypatch) -> None:
    module = tmp_path / "ff_fake_engine.py"
    module.write_text("X = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    __import__("ff_fake_engine")
    before = identity.code_identity(("ff_fake_engine",))
    assert identity.code_identity(("ff_fake_engine",)) == before
    touch(module)
    assert identity.code_identity(("ff_fake_engine",)) != before
    sys.modules.pop("ff_fake_engine")


def test_a_reinstalled_library_changes_the_identity(tmp_path, monkeypatch) -> None:
    package = tmp_path / "ff_fake_sqlglot"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "_version.py").write_text("version = '1'\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(identity, "_LIBRARIES", ("ff_fake_sqlglot",))
    before = identity.code_identity()
    (package / "_version.py").write_text("version = '2'\n")
    identity._identity.cache_clear()
    assert identity.code_identity() != before


def test_an_engine_is_named_by_the_modules_of_its_spec_and_rewrites() -> None:
    modules = identity.engine_modules(engine("postgres"))
    assert "flowforge_compiler.engines.postgres" in modules
    assert identity.code_identity(modules) != identity.code_identity()
