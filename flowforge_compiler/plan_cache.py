"""A cache of whole plans: compiling a project that did not change reads the plan it gave last time.

A plan is a function of the project's files, the profile's settings, the environment variables
its models read, the vars and flags of the command and the code that compiles. The entry's key
hashes all that can be known before compiling: the text of project.yml and sources.yml, every
file under models/, macros/ and seeds/ (names and bytes; for a dbt project, dbt_project.yml and
the model, seed, macro and test folders it names), the profile's non-secret facts (name,
engine, dialect, `target.*`, where its data lives), the `FF_*` variables fingerprints hold (all
but the engines' settings overrides, whose effect those facts already hold), the vars, `--strict`,
lineage, the project's folder and `code_identity`. What only the compile finds out is stored in
the entry and asked again before it is served: each `env_var()` name a model looked up (a digest
of its value then, salted by the key), each path that resolving Python imports probed and each
helper file it read (`local_modules.ImportProbes`). A symlink among the hashed paths, an entry
that does not read back, or anything else unexpected means an ordinary compile.

Only successful compiles are kept, with the warnings they logged (shown again on a hit), in
`<project>/.flowforge/cache/plans/`, the four most recently used; a cache that cannot be written
never stops a command.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import stat
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any

from flowforge_compiler.code_identity import code_identity, engine_modules
from flowforge_compiler.errors import FlowForgeError
from flowforge_compiler.local_modules import ImportProbes, recording_imports
from flowforge_compiler.paths import DBT_PROJECT, is_dbt_project
from flowforge_compiler.plan import Plan
from flowforge_compiler.profiles import Profile, fingerprinted_environment

_FORMAT = 1
_KEPT = 4
_HASHED_FILES = ("project.yml", "sources.yml", "packages.yml", "dependencies.yml")
_HASHED_FOLDERS = ("models", "macros", "seeds")
log = logging.getLogger("flowforge")


def compile_cached(
    root: Path,
    profile: Profile,
    *,
    vars: Mapping[str, Any] | None = None,
    strict: bool = False,
    lineage: bool = False,
    environ: Mapping[str, str] | None = None,
    empty: bool = False,
) -> Plan:
    """The plan of the project at `root` (resolved) for `profile`: the cached one when nothing
    it depends on changed, else a compile (whose SQL stage has its own cache)."""
    environ = os.environ if environ is None else environ
    cache = PlanCache(root / ".flowforge" / "cache" / "plans")
    keys = plan_keys(root, profile, vars or {}, strict=strict, environ=environ, empty=empty)
    key = keys[lineage] if keys is not None else None
    # column lineage only adds to a plan: one that has it serves a command that does not ask
    # for it (`ffc compile`, then `ffc run`)
    for wanted in dict.fromkeys((lineage, True)):
        plan = cache.get(keys[wanted], environ) if keys is not None else None
        if plan is not None:
            return plan
    from flowforge_compiler.compile import compile_project  # the compiler proper: only on a miss
    from flowforge_compiler.project import load_project
    from flowforge_compiler.sql_cache import SqlCache

    with recording_imports() as probes, _warnings_logged() as warnings:
        project = load_project(root, target=profile.target())
        sql_cache = SqlCache.for_project(project.root)
        plan = compile_project(project, profile, vars=vars, environ=environ, strict=strict, lineage=lineage, cache=sql_cache, empty=empty)
        sql_cache.save()
    if key is not None and warnings is not None:
        cache.put(key, plan, probes, warnings, environ)
    return plan


def plan_keys(
    root: Path, profile: Profile, vars: Mapping[str, Any], *, strict: bool, environ: Mapping[str, str], empty: bool = False
) -> dict[bool, str] | None:
    """The keys of a plan without and with column lineage (the files are read once for both);
    None when the files cannot be hashed faithfully (a symlink, an unreadable file)."""
    files = _files_digest(root)
    if files is None:
        return None
    facts = _facts(root, profile, vars, strict=strict, environ=environ, files=files) | ({"empty": True} if empty else {})
    return {lineage: _digest({**facts, "lineage": lineage}) for lineage in (False, True)}


def _facts(root: Path, profile: Profile, vars: Mapping[str, Any], *, strict: bool, environ: Mapping[str, str], files: str) -> dict[str, Any]:
    """What a compile reads that is known before it runs (`files`: their digest)."""
    return {
        "code": code_identity(engine_modules(profile.spec)),
        "root": str(root),
        "files": files,
        "profile": {
            "name": profile.name,
            "engine": profile.engine,
            "dialect": profile.dialect,
            "target": asdict(profile.target()),
            "location": profile.location(root),
            "single_writer": profile.spec.capabilities.single_writer,
            "allow_outside": list(profile.allow_outside),
        },
        # the FF_* variables the plan holds; the engines' settings overrides act through the
        # profile facts above, so a credential in FF_PG_DSN never enters the key
        "ff_environment": fingerprinted_environment(environ),
        "vars": vars,
        "strict": strict,
    }


def _digest(facts: dict[str, Any]) -> str:
    text = json.dumps(facts, sort_keys=True, separators=(",", ":"), default=repr)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _files_digest(root: Path) -> str | None:
    digest = hashlib.sha256()
    try:
        files, folders = _hashed(root)
        for name in files:
            _add_entry(digest, root / name, name)
        for name in folders:
            _add_entry(digest, root / name, name)
    except (_NotHashable, OSError, FlowForgeError):
        return None
    return digest.hexdigest()


def _hashed(root: Path) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The files and folders a compile reads: FlowForge's fixed ones, or the folders a dbt
    project's dbt_project.yml names and its installed packages (a broken one is left to the
    compile to report)."""
    if not is_dbt_project(root):
        return _HASHED_FILES, _HASHED_FOLDERS
    from flowforge_compiler.dbt_project import package_folder, read_dbt_project

    data, *folders = read_dbt_project(root, warn=False)
    return (DBT_PROJECT, *_HASHED_FILES), tuple(dict.fromkeys([*(f for group in folders for f in group), package_folder(data)]))


class _NotHashable(Exception):
    """A symlink: what it points to may change without it; leave it to an ordinary compile."""


def _add_entry(digest: Any, path: Path, name: str) -> None:
    """Add one path (a folder recursively, in name order) to the digest: its kind, name and bytes."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        digest.update(f"-{name}\0".encode())
        return
    if stat.S_ISLNK(info.st_mode):
        raise _NotHashable(name)
    if stat.S_ISDIR(info.st_mode):
        digest.update(f"d{name}\0".encode())
        with os.scandir(path) as entries:
            children = sorted(entry.name for entry in entries)
        for child in children:
            if child != "__pycache__":  # written by Python when helpers are imported; never read
                _add_entry(digest, path / child, f"{name}/{child}")
        digest.update(b"\x01")
    elif stat.S_ISREG(info.st_mode):
        data = path.read_bytes()
        digest.update(f"f{name}\0{len(data)}\0".encode())
        digest.update(data)
    else:  # a socket or a pipe: never read by a compile
        digest.update(f"o{name}\0".encode())


class PlanCache:
    """The entries: one file per key, a header line (what to check again) and the plan."""

    def __init__(self, folder: Path):
        self.folder = folder

    def get(self, key: str, environ: Mapping[str, str]) -> Plan | None:
        path = self.folder / f"{key}.json"
        try:
            with path.open(encoding="utf-8") as handle:
                header = json.loads(handle.readline())
                if not self._still_true(header, key, environ):
                    return None
                plan = Plan.model_validate_json(handle.read())
        except (OSError, ValueError):  # absent, torn, or from another format: compile instead
            return None
        try:
            os.utime(path)  # most recently used
        except OSError:
            pass
        for name, level, message in header["warnings"]:
            logging.getLogger(name).log(level, "%s", message)
        return plan

    @staticmethod
    def _still_true(header: Any, key: str, environ: Mapping[str, str]) -> bool:
        if not isinstance(header, dict) or header.get("format") != _FORMAT or header.get("key") != key:
            return False
        probes = ImportProbes(paths=header["probes"], files=header["helpers"])
        env = {name: _env_digest(key, name, environ) for name in header["env"]}
        return env == header["env"] and probes.unchanged()

    def put(
        self, key: str, plan: Plan, probes: ImportProbes, warnings: list[tuple[str, int, str]], environ: Mapping[str, str]
    ) -> None:
        names = sorted({name for node in plan.nodes for name in node.env_read})
        header = {
            "format": _FORMAT,
            "key": key,
            "env": {name: _env_digest(key, name, environ) for name in names},
            "probes": probes.paths,
            "helpers": probes.files,
            "warnings": warnings,
        }
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=f".{key}", suffix=".tmp")
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(json.dumps(header, separators=(",", ":")) + "\n")
                handle.write(plan.model_dump_json(by_alias=True))
            os.replace(tmp, self.folder / f"{key}.json")
            self._prune()
        except OSError as exc:  # a read-only checkout compiles as well, only not faster next time
            log.info("the plan cache %s cannot be written (%s)", self.folder, exc.strerror)

    def _prune(self) -> None:
        entries = sorted(self.folder.glob("*.json"), key=lambda p: p.stat().st_mtime_ns, reverse=True)
        for old in entries[_KEPT:]:
            old.unlink(missing_ok=True)


def _env_digest(key: str, name: str, environ: Mapping[str, str]) -> str | None:
    """None when unset; else a digest salted by the entry's key, so the file holds no value."""
    value = environ.get(name)
    if value is None:
        return None
    return hashlib.sha256(f"{key}\0{name}\0{value}".encode("utf-8", "surrogateescape")).hexdigest()


@contextmanager
def _warnings_logged() -> Iterator[list[tuple[str, int, str]] | None]:
    """The warnings logged meanwhile; None when the logger is set to drop them (a level above
    WARNING; the CLI's -q hides them at its handler instead), since an entry must be able to
    show them again."""
    if log.getEffectiveLevel() > logging.WARNING:
        yield None
        return
    records: list[tuple[str, int, str]] = []
    handler = _Collect(records)
    log.addHandler(handler)
    try:
        yield records
    finally:
        log.removeHandler(handler)


class _Collect(logging.Handler):
    def __init__(self, records: list[tuple[str, int, str]]):
        super().__init__(logging.WARNING)
        self.records = records

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append((record.name, record.levelno, record.getMessage()))
