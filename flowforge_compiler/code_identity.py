"""Which code a compile cache's entry was computed by.

FlowForge's version alone is not enough: an editable install, a patched engine plugin or an
upgraded sqlglot or Jinja changes what a compile gives without changing that number. So the
identity also holds the size and modification time of every file of the compiler package, of
the modules that define the engine (its spec and rewrites), and of sqlglot's and Jinja's own
package files; reinstalling or editing any of them starts a new cache. Found by stat alone, with
nothing imported, so a cache hit stays cheap.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
from functools import lru_cache
from pathlib import Path
from typing import Any

from flowforge_compiler import __version__

_LIBRARIES = ("sqlglot", "jinja2")


def engine_modules(spec: Any) -> tuple[str, ...]:
    """The modules that define an engine (`EngineSpec`): its own and its rewrites'."""
    return tuple(sorted({spec.profile.__module__, *(type(rule).__module__ for rule in spec.rewrites)}))


def code_identity(modules: tuple[str, ...] = ()) -> str:
    """A digest of the compiler's code, the libraries it renders and translates with, and the
    named modules' files (an engine's)."""
    return _identity(tuple(sorted(set(modules))))


@lru_cache(maxsize=16)
def _identity(modules: tuple[str, ...]) -> str:
    digest = hashlib.sha256(f"{__version__}\0{sys.version}".encode())
    package = Path(__file__).resolve().parent
    files = sorted(package.rglob("*.py"))
    for name in _LIBRARIES:
        files += _library_files(name)
    for name in modules:
        module = sys.modules.get(name)
        origin = getattr(module, "__file__", None)
        if origin:
            files.append(Path(origin))
    for path in files:
        digest.update(_stamp(path))
    return digest.hexdigest()


def _library_files(name: str) -> list[Path]:
    spec = importlib.util.find_spec(name)
    if spec is None or spec.origin is None:
        return []
    folder = Path(spec.origin).parent
    return [folder / "__init__.py", folder / "_version.py"]


def _stamp(path: Path) -> bytes:
    try:
        info = os.stat(path)
    except OSError:
        return f"{path}\0-\n".encode()
    return f"{path}\0{info.st_size}\0{info.st_mtime_ns}\n".encode()
