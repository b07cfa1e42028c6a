"""Small passes over rendered model SQL: one statement, CTE injection, fingerprint text.

Statement boundaries come from sqlglot's tokenizer, which knows the dialect's strings, quoted
names and comments, so a `;` inside a string never splits a model and a `;` outside one is
always seen.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from flowforge_compiler.engine_sdk import DEFAULT_DIALECT as SOURCE_DIALECT
from flowforge_compiler.errors import Location, ProjectFileError, TemplateError

if TYPE_CHECKING:
    from sqlglot.tokens import Token

# Statements that change something: a model (or a SQL seed) is a query, never one of these.
_NOT_QUERIES = frozenset(
    "INSERT UPDATE DELETE DROP CREATE ALTER TRUNCATE MERGE COPY ATTACH DETACH PRAGMA SET RESET CALL GRANT "
    "REVOKE INSTALL LOAD EXPORT IMPORT BEGIN START COMMIT ROLLBACK ABORT USE VACUUM CHECKPOINT EXECUTE "
    "PREPARE DEALLOCATE COMMENT REPLACE UPSERT LOCK UNLISTEN LISTEN NOTIFY DO".split()
)

# What follows the blank space and comments a statement may start with; each is matched at the
# end of that lead, found by `_lead_end` in one pass (a regex for the lead, `(\s+|--...)*`,
# backtracks exponentially when what follows does not match).
_DDL = re.compile(
    r"create\s+(?:or\s+replace\s+)?(?P<kind>table|view)\s+"
    r'(?:if\s+not\s+exists\s+)?(?P<relation>(?:"[^"]+"|[\w$]+)(?:\.(?:"[^"]+"|[\w$]+))*)\s+as\s+(?P<body>.*)$',
    re.IGNORECASE | re.DOTALL,
)
_WITH = re.compile(r"with(?P<recursive>\s+recursive)?\b", re.IGNORECASE)


def _lead_end(sql: str) -> int:
    """Where the blank space and comments at the start of `sql` end (linear time; an
    unterminated block comment is not part of the lead)."""
    at, size = 0, len(sql)
    while at < size:
        if sql[at].isspace():
            at += 1
        elif sql.startswith("--", at):
            newline = sql.find("\n", at)
            at = size if newline < 0 else newline + 1
        elif sql.startswith("/*", at):
            close = sql.find("*/", at + 2)
            if close < 0:
                return at
            at = close + 2
        else:
            return at
    return at


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
    match = _DDL.match(sql, _lead_end(sql))
    if match is None:
        return None
    relation = match.group("relation").split(".")[-1].strip('"')
    return SpecEraDdl(match.group("kind").lower(), relation, match.group("body").strip())


def is_blank(sql: str) -> bool:
    return _lead_end(sql) == len(sql)


def rendered_test(rendered: str, name: str, where: Location) -> str:
    """A dbt test's rendered query, its trailing `;` dropped; one that renders to nothing is an error."""
    sql = strip_statement(rendered)
    if is_blank(sql):
        raise TemplateError(f"the test {name!r} renders to no SQL", location=where, hint="a test is one SELECT of the failing rows")
    return sql


def inject_ctes(sql: str, ctes: list[tuple[str, str]]) -> str:
    """Prepend CTEs (ephemeral models, named as their relation) to a statement, merging with
    a leading WITH of its own."""
    if not ctes:
        return sql
    from flowforge_compiler.dsl import quote_identifier  # the template language: only when compiling

    text = ",\n".join(f"{quote_identifier(name)} as (\n{body}\n)" for name, body in ctes)
    lead = _lead_end(sql)
    match = _WITH.match(sql, lead)
    if match:
        recursive = match.group("recursive") or ""
        return f"{sql[:lead]}with{recursive} {text},\n{sql[match.end():].lstrip()}"
    return f"with {text}\n{sql}"


_QUOTED_OR_GAP = re.compile(
    r"""('(?:[^']|'')*'|"(?:[^"]|"")*")|((?:\s|--[^\n]*|/\*.*?\*/)+)""",
    re.DOTALL,
)


def normalize_for_fingerprint(sql: str) -> str:
    """SQL without comments and with runs of blank space folded, outside quoted text: a comment
    or a re-indent does not change what the statement computes."""
    return _QUOTED_OR_GAP.sub(lambda m: m.group(1) or " ", sql).strip()


def _tokens(sql: str, what: str, location: Location, dialect: str) -> list[Token]:
    import sqlglot
    from sqlglot.errors import TokenError

    try:
        return sqlglot.tokenize(sql, read=dialect)
    except TokenError as exc:
        raise ProjectFileError(
            f"{what} cannot be read as SQL: {str(exc).splitlines()[0]}",
            location=location,
            hint="look for an unterminated string, quoted name or comment",
        ) from exc


def single_statement(
    sql: str, location: Location, *, what: str = "the model", dialect: str = SOURCE_DIALECT, query: bool = False
) -> str:
    """The one statement `sql` holds, without trailing `;` and comments; a second statement
    (written, or made by a var or a macro) is an error naming the file and its line. With
    `query`, the statement must also be a query (SELECT, WITH, FROM, VALUES, PIVOT, ...)."""
    return statement_tokens(sql, location, what=what, dialect=dialect, query=query)[0]


def statement_tokens(
    sql: str, location: Location, *, what: str = "the model", dialect: str = SOURCE_DIALECT, query: bool = False
) -> tuple[str, list[Token]]:
    """`single_statement`, plus the statement's tokens, so the parser need not tokenize again."""
    tokens = _tokens(sql, what, location, dialect)
    statements: list[list[Token]] = [[]]
    for token in tokens:
        if token.token_type.name == "SEMICOLON":
            statements.append([])
        else:
            statements[-1].append(token)
    found = [s for s in statements if s]
    if len(found) > 1:
        second = found[1][0]
        raise ProjectFileError(
            f"{what} holds more than one SQL statement (the second starts on line {second.line} of the rendered SQL)",
            location=location,
            hint="a model is exactly one SELECT; FlowForge never runs a second statement",
        )
    if not found:
        return sql, []
    first = found[0][0].text.upper()
    if query and first in _NOT_QUERIES:
        raise ProjectFileError(
            f"{what} is a {first} statement, not a query",
            location=location,
            hint="a model is one SELECT (or WITH ... SELECT); FlowForge writes the DDL around it",
        )
    return sql[: found[0][-1].end + 1], found[0]


def boolean_filter(text: str, location: Location, *, what: str, dialect: str = SOURCE_DIALECT) -> str:
    """A `where:` filter: one expression that cannot close a parenthesis it did not open nor
    start a statement, so it can be embedded in FlowForge's own SQL."""
    return one_expression(text, location, what=what, dialect=dialect, kind="boolean expression", hint="write a condition such as `status = 'active'`")


def one_expression(text: str, location: Location, *, what: str, dialect: str, kind: str, hint: str) -> str:
    """SQL text that must be one expression (a filter, an aggregate), checked by its tokens
    and parse, so it can be embedded in FlowForge's own SQL."""
    import sqlglot
    from sqlglot import exp
    from sqlglot.errors import ParseError

    depth = 0
    for token in _tokens(text, what, location, dialect):
        kind_of = token.token_type.name
        depth += 1 if kind_of == "L_PAREN" else -1 if kind_of == "R_PAREN" else 0
        if kind_of == "SEMICOLON" or depth < 0:
            raise ProjectFileError(
                f"{what} must be one {kind}; it {'ends the statement' if kind_of == 'SEMICOLON' else 'closes a parenthesis it did not open'}",
                location=location,
                hint=hint,
            )
    try:
        parsed = sqlglot.parse_one(text, read=dialect)
    except ParseError as exc:
        raise ProjectFileError(f"{what} is not a valid SQL expression: {str(exc).splitlines()[0]}", location=location) from exc
    if depth != 0 or not isinstance(parsed, exp.Condition) or isinstance(parsed, exp.Query):
        raise ProjectFileError(f"{what} must be one {kind}, not a statement", location=location)
    return text
