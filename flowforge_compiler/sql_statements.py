"""Small, dialect-neutral text passes over rendered model SQL."""

from __future__ import annotations

import re
from dataclasses import dataclass

from flowforge_compiler.dsl import quote_identifier

_LEADING_COMMENTS = r"(?:\s+|--[^\n]*(?:\n|$)|/\*.*?\*/)*"
_DDL = re.compile(
    rf"^(?P<lead>{_LEADING_COMMENTS})create\s+(?:or\s+replace\s+)?(?P<kind>table|view)\s+"
    r'(?:if\s+not\s+exists\s+)?(?P<relation>(?:"[^"]+"|[\w$]+)(?:\.(?:"[^"]+"|[\w$]+))*)\s+as\s+(?P<body>.*)$',
    re.IGNORECASE | re.DOTALL,
)
_WITH = re.compile(rf"^(?P<lead>{_LEADING_COMMENTS})with(?P<recursive>\s+recursive)?\b", re.IGNORECASE | re.DOTALL)


@dataclass(frozen=True)
class SpecEraDdl:
    """`create or replace table|view <relation> as <select>`: the spec era's model style."""

    kind: str
    relation: str
    select: str


def strip_statement(sql: str) -> str:
    """Drop surrounding blank space and trailing semicolons, which wrapping DDL cannot take."""
    text = sql.strip()
    while text.endswith(";"):
        text = text[:-1].rstrip()
    return text


def parse_spec_era_ddl(sql: str) -> SpecEraDdl | None:
    match = _DDL.match(sql)
    if match is None:
        return None
    relation = match.group("relation").split(".")[-1].strip('"')
    return SpecEraDdl(match.group("kind").lower(), relation, match.group("body").strip())


def is_blank(sql: str) -> bool:
    return re.fullmatch(_LEADING_COMMENTS, sql, re.DOTALL) is not None


def inject_ctes(sql: str, ctes: list[tuple[str, str]]) -> str:
    """Prepend CTEs (ephemeral models, named as their relation) to a statement, merging with
    a leading WITH of its own."""
    if not ctes:
        return sql
    text = ",\n".join(f"{quote_identifier(name)} as (\n{body}\n)" for name, body in ctes)
    match = _WITH.match(sql)
    if match:
        recursive = match.group("recursive") or ""
        return f"{match.group('lead')}with{recursive} {text},\n{sql[match.end():].lstrip()}"
    return f"with {text}\n{sql}"


_QUOTED_OR_GAP = re.compile(
    r"""('(?:[^']|'')*'|"(?:[^"]|"")*")|((?:\s|--[^\n]*|/\*.*?\*/)+)""",
    re.DOTALL,
)


def normalize_for_fingerprint(sql: str) -> str:
    """SQL without comments and with runs of blank space folded, outside quoted text: a comment
    or a re-indent does not change what the statement computes."""
    return _QUOTED_OR_GAP.sub(lambda m: m.group(1) or " ", sql).strip()
