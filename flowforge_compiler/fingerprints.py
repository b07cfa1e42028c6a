"""Fingerprints per the spec's formula: what changes data changes the hash, nothing else does.

fingerprint = sha256(node payload, environment context, upstream fingerprints). The payload of a
SQL node is its rendered SQL; of a Python node, its ast-normalised source; of a seed, its bytes.
Descriptions and tags are not part of it, so docs-only edits never force a rebuild.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class EnvContext:
    """The spec's env_ctx: engine, profile, FF_* variables and the normalised sources.yml, plus
    where the profile keeps its data (a DuckDB file, a database and schema; never credentials),
    so a build in one place never counts as a build in another."""

    engine: str
    profile_name: str
    ff_environment: Mapping[str, str]
    sources: Sequence[Sequence[str | None]]
    location: Mapping[str, str] = field(default_factory=dict)

    @property
    def digest(self) -> str:
        return _digest(self.as_dict())

    def as_dict(self) -> dict[str, Any]:
        return {
            "engine": self.engine,
            "profile_name": self.profile_name,
            "ff_environment": dict(sorted(self.ff_environment.items())),
            "sources": [list(s) for s in self.sources],
            "location": dict(sorted(self.location.items())),
        }


def _digest(payload: Mapping[str, Any]) -> str:
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def node_fingerprint(
    payload: Mapping[str, Any], env: EnvContext, dep_fingerprints: Mapping[str, str]
) -> str:
    """One formula for every kind; `payload` holds what defines the node's data."""
    return _digest({"node": dict(payload), "env": env.digest, "deps": dict(sorted(dep_fingerprints.items()))})


def file_digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
