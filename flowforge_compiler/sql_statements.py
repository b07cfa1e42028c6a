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


def normalize_for_fingerprint(sql: str) -> str:
    """SQL without comments and with runs of blank space folded, outside quoted text: a comment
    or a re-indent does not change what the statement computes."""
    out: list[str] = []
    i, n = 0, len(sql)
    pending_space = False
    while i < n:
        char = sql[i]
        if char in "'\"":
            end = i + 1
            while end < n:
                if sql[end] == char:
                    if end + 1 < n and sql[end + 1] == char:  # a doubled quote inside the text
                        end += 2
                        continue
                    break
                end += 1
            token, i = sql[i:end + 1], end + 1
        elif sql.startswith("--", i):
            newline = sql.find("\n", i)
            i = n if newline < 0 else newline
            pending_space = True
            continue
        elif sql.startswith("/*", i):
            close = sql.find("*/", i + 2)
            i = n if close < 0 else close + 2
            pending_space = True
            continue
        elif char.isspace():
            pending_space = True
            i += 1
            continue
        else:
            token, i = char, i + 1
        if pending_space and out:
            out.append(" ")
        pending_space = False
        out.append(token)
    return "".join(out)
