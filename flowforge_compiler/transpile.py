"""Portable SQL: every rendered model is parsed once in its dialect and written in the engine's.

A syntax error is a compile error with file, line and column; a table that is neither a
`ref()`, a `source()`, the model itself nor a CTE is reported by name; the SQL stored in the plan
is the engine's dialect (kept as written when the dialects agree or the model opts out with
`config(transpile=false)`). Where sqlglot's translation would change the meaning, `rewrites`
applies FlowForge's own form, or says the construct cannot be carried over.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.errors import ErrorLevel, ParseError, UnsupportedError
from sqlglot.tokens import Token

from flowforge_compiler.engine_sdk import DEFAULT_DIALECT
from flowforge_compiler.errors import Location, ProjectFileError
from flowforge_compiler.rewrites import NotPortable, Rewrite, rewrite

log = logging.getLogger("flowforge")


def known_dialect(name: str) -> str | None:
    """The problem with a dialect name, or None when sqlglot knows it."""
    try:
        sqlglot.Dialect.get_or_raise(name)
    except (ValueError, KeyError) as exc:
        return str(exc).splitlines()[0]
    return None


@dataclass(frozen=True)
class ParsedModel:
    tree: exp.Expr
    dialect: str


def parse_model(sql: str, dialect: str, location: Location, tokens: list[Token] | None = None) -> ParsedModel:
    """One statement parsed in `dialect` (from its `tokens` when the caller has them); a syntax
    error names the line and column of the rendered SQL."""
    try:
        if tokens:
            parsed = sqlglot.Dialect.get_or_raise(dialect).parser(error_level=ErrorLevel.RAISE).parse(tokens, sql)
            tree = parsed[0]
            if tree is None:
                raise ParseError("No expression was parsed")
        else:
            tree = sqlglot.parse_one(sql, read=dialect, error_level=ErrorLevel.RAISE)
    except ParseError as exc:
        first = exc.errors[0] if exc.errors else {}
        where = Location(location.path, first.get("line"), first.get("col"))
        description = first.get("description") or str(exc).splitlines()[0]
        raise ProjectFileError(
            f"SQL syntax error ({dialect}): {description}",
            location=where,
            hint="line and column count in the rendered SQL (after Jinja)",
        ) from exc
    if dialect == DEFAULT_DIALECT:
        _ask_duckdbs_parser(sql, location)
    return ParsedModel(tree, dialect)


class _DuckDBParser:
    """DuckDB's parser for the compiles under way. Opening a database costs 12 ms and starts
    threads (with them alive, a later fork, as Spark's gateway makes, can crash the child), so
    one is shared while any compile runs (`parsing()`) and closed when the last ends."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._users = 0
        self._connection: Any = None

    @contextmanager
    def parsing(self) -> Iterator[None]:
        with self._lock:
            self._users += 1
        try:
            yield
        finally:
            with self._lock:
                self._users -= 1
                if self._users == 0 and self._connection is not None:
                    self._connection.close()
                    self._connection = None

    def check(self, sql: str) -> tuple[str, int | None, int | None] | None:
        """None when DuckDB parses `sql`; else its message, and the line and column it names."""
        import duckdb

        with self._lock:
            con = self._connection or duckdb.connect(":memory:")
            try:
                con.extract_statements(sql)
                return None
            except duckdb.ParserException as exc:
                return (str(exc).split("\n", 1)[0].removeprefix("Parser Error: "), *_error_position(con, sql))
            finally:
                if self._users:
                    self._connection = con
                else:  # asked outside a compile: nothing keeps it open
                    con.close()


_PARSER = _DuckDBParser()
parsing = _PARSER.parsing  # compile_project holds it for the whole compile


def _ask_duckdbs_parser(sql: str, location: Location) -> None:
    """DuckDB's own parser (it needs no tables, 0.05 ms a model) on SQL written in its dialect,
    so what sqlglot reads more leniently (`select email from from x`: a FROM-first query taken
    for the table) stops the compile with DuckDB's syntax error, its line and column, instead
    of failing the run."""
    failed = _PARSER.check(sql)
    if failed is None:
        return
    message, line, column = failed
    raise ProjectFileError(
        f"SQL syntax error ({DEFAULT_DIALECT}): {message}",
        location=Location(location.path, line, column),
        hint="line and column count in the rendered SQL (after Jinja)",
    )


def _error_position(con: Any, sql: str) -> tuple[int | None, int | None]:
    """Where DuckDB's parser stopped, from its JSON form of the error (which has the offset)."""
    import json

    row = con.execute("select json_serialize_sql(?)", [sql]).fetchone()
    answer = json.loads(row[0]) if row else {}
    if answer.get("error_type") != "parser" or answer.get("position") is None:
        return None, None
    position = int(answer["position"])
    return sql.count("\n", 0, position) + 1, position - (sql.rfind("\n", 0, position) + 1) + 1


def undeclared_tables(parsed: ParsedModel, declared: Iterable[tuple[str, ...]]) -> list[str]:
    """Tables the query reads that no `ref()`/`source()`/CTE declares (`declared`: the parts of
    each relation, so a name may hold dots), by name."""
    known = {_key(parts) for parts in declared}
    ctes = {cte.alias_or_name.lower() for cte in parsed.tree.find_all(exp.CTE)}
    found: list[str] = []
    for table in parsed.tree.find_all(exp.Table):
        if not isinstance(table.this, exp.Identifier):
            continue  # a table function such as read_csv(...) or range(...)
        parts = [p.name for p in (table.args.get("catalog"), table.args.get("db"), table.this) if p is not None]
        if len(parts) == 1 and parts[0].lower() in ctes:
            continue
        name = ".".join(parts)
        if _key(parts) not in known and name not in found:
            found.append(name)
    return found


def _key(parts: Iterable[str]) -> tuple[str, ...]:
    return tuple(p.lower() for p in parts)


def to_engine(
    parsed: ParsedModel,
    engine_dialect: str,
    location: Location,
    what: str = "the model",
    support: set[str] | None = None,
    rules: Sequence[Rewrite] = (),
) -> str:
    """The model's SQL in the engine's dialect, with the engine's rewrites (`rules`) applied;
    statements the rewritten SQL needs on the engine first (helper functions) go into `support`."""
    try:
        tree = parsed.tree.copy()
        written = {id(call) for call in tree.find_all(exp.Anonymous)}  # as the model calls them, before rewrites add the engine's
        tree = rewrite(tree, parsed.dialect, rules, support)
        if parsed.dialect == DEFAULT_DIALECT and engine_dialect != DEFAULT_DIALECT:
            _refuse_duckdb_only_functions(tree, engine_dialect, written)
        return tree.sql(dialect=engine_dialect, unsupported_level=ErrorLevel.RAISE)
    except NotPortable as exc:
        raise ProjectFileError(
            f"{what} uses {exc.construct}, which has no faithful {engine_dialect} form",
            location=location,
            hint=f"{exc.hint}; or keep engine-native SQL with config(transpile=false)",
        ) from exc
    except UnsupportedError as exc:
        raise ProjectFileError(
            f"{what} cannot be written in {engine_dialect}: {str(exc).splitlines()[0]}",
            location=location,
            hint="rewrite the construct, or keep engine-native SQL with config(transpile=false)",
        ) from exc


# DuckDB functions sqlglot leaves as written that the engines have under the same name
_SAME_EVERYWHERE = frozenset({"date_part"})


def _refuse_duckdb_only_functions(tree: exp.Expr, engine_dialect: str, written: set[int]) -> None:
    """A DuckDB function sqlglot does not know (`list_sum`, `list_filter`, ...) and no rewrite
    turned into the engine's would be written to the engine under its DuckDB name and fail there
    at run time: refuse it now, by name. A function that is no DuckDB built-in (the engine's own,
    or a user's) passes as written, as do those a rewrite made (`written`: the model's own calls)."""
    for call in tree.find_all(exp.Anonymous):
        name = call.name.lower()
        if id(call) in written and name in _duckdb_functions() and name not in _SAME_EVERYWHERE:
            raise NotPortable(
                f"the DuckDB function {name}()",
                engine_dialect,
                f"FlowForge knows no {engine_dialect} form of it: write the {engine_dialect} equivalent",
            )


@cache
def _duckdb_functions() -> frozenset[str]:
    """DuckDB's built-in functions, asked of an in-memory DuckDB (once per process)."""
    import duckdb

    with duckdb.connect(":memory:") as con:
        return frozenset(row[0].lower() for row in con.execute("select distinct function_name from duckdb_functions()").fetchall())


def expression_to_engine(
    text: str,
    dialect: str,
    engine_dialect: str,
    location: Location,
    what: str,
    support: set[str] | None = None,
    rules: Sequence[Rewrite] = (),
) -> str:
    """A SQL expression (a check's `where:`) in the engine's dialect."""
    if dialect == engine_dialect:
        return text
    try:
        tree = sqlglot.parse_one(text, read=dialect)
    except ParseError as exc:
        raise ProjectFileError(f"{what} is not a valid SQL expression: {str(exc).splitlines()[0]}", location=location) from exc
    return to_engine(ParsedModel(tree, dialect), engine_dialect, location, what, support, rules)


def engine_type(text: str, dialect: str, engine_dialect: str) -> str:
    """A SQL data type (seeds/schema.yml) in the engine's dialect: DuckDB's DOUBLE is
    PostgreSQL's DOUBLE PRECISION."""
    if dialect == engine_dialect:
        return text
    return exp.DataType.build(text, dialect=dialect).sql(dialect=engine_dialect)
