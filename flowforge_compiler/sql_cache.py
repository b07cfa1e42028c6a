"""A cache of the SQL stage: what tokenizing, parsing and transpiling a rendered model gave.

That stage is a pure function of its inputs (the rendered SQL, its dialect and the engine's,
the relations it declares, and the code: `code_identity`), so an entry keyed by a hash of all of them
can never be stale; only successes are kept (a model that fails is checked again next time).
The file is `<project>/.flowforge/cache/sql-stage.json`, written atomically; an unreadable one
counts as empty.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import threading
from pathlib import Path
from typing import Any

from flowforge_compiler import __version__

_FORMAT = 1
log = logging.getLogger("flowforge")


class SqlCache:
    def __init__(self, path: Path | None = None):
        self.path = path
        self._entries: dict[str, Any] = self._load()
        self._used: set[str] = set()
        self._dirty = False
        self._lock = threading.Lock()

    @classmethod
    def for_project(cls, root: Path) -> SqlCache:
        return cls(root / ".flowforge" / "cache" / "sql-stage.json")

    @staticmethod
    def key(code: str, *parts: Any) -> str:
        """A hash of the inputs and of the code that works on them (`code_identity`)."""
        text = json.dumps([code, *parts], sort_keys=True, separators=(",", ":"), default=sorted)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def _load(self) -> dict[str, Any]:
        if self.path is None or not self.path.exists():
            return {}
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        if not isinstance(data, dict) or data.get("format") != _FORMAT or data.get("version") != __version__:
            return {}
        entries = data.get("entries")
        return entries if isinstance(entries, dict) else {}

    def get(self, key: str) -> Any:
        with self._lock:
            value = self._entries.get(key)
            if value is not None:
                self._used.add(key)
            return value

    def put(self, key: str, value: Any) -> None:
        with self._lock:
            self._entries[key] = value
            self._used.add(key)
            self._dirty = True

    def save(self) -> None:
        """Keep the entries this compile used (so the file does not grow with every edit)."""
        if self.path is None:
            return
        with self._lock:
            if not self._dirty and len(self._used) == len(self._entries):
                return
            kept = {k: self._entries[k] for k in sorted(self._used)}
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=self.path.name, suffix=".tmp")
                with os.fdopen(fd, "w", encoding="utf-8") as handle:
                    json.dump({"format": _FORMAT, "version": __version__, "entries": kept}, handle, separators=(",", ":"))
                os.replace(tmp, self.path)
            except OSError as exc:  # a read-only checkout compiles as well, only not faster next time
                log.info("the SQL-stage cache %s cannot be written (%s)", self.path, exc.strerror)
                return
            self._dirty = False
