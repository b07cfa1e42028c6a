"""What running one node produced."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

NodeStatus = Literal["built", "failed", "skipped"]


@dataclass(frozen=True)
class NodeResult:
    node_id: str
    status: NodeStatus
    seconds: float = 0.0
    relation: str | None = None
    materialization: str | None = None
    rows: int | None = None
    message: str = ""
