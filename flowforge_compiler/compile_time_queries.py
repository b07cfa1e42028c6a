"""The queries a dbt template runs while it compiles (`statement`/`load_result`, `run_query`),
for the one kind FlowForge can answer without the warehouse: a query of constants that reads no
table, such as the interval count dbt_utils' `date_spine` asks for. It is parsed in the
project's dialect and run by an in-memory DuckDB that cannot reach files or extensions.

A query that reads a table needs the warehouse, and one whose answer changes with the clock or
at random would make a cached plan stale; both stop the compile naming what they use.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError

from flowforge_compiler.dsl import DslError
from flowforge_compiler.engine_sdk import DEFAULT_DIALECT

_VOLATILE = (exp.CurrentDate, exp.CurrentTimestamp, exp.CurrentTime, exp.CurrentDatetime, exp.Localtimestamp, exp.Rand, exp.Uuid)
_VOLATILE_NAMES = frozenset({"now", "random", "uuid", "gen_random_uuid", "getenv", "current_setting", "clock_timestamp", "statement_timestamp"})
_HINT = "give the value as a var(), or compute it in the model's SQL (which runs on the warehouse)"


@dataclass(frozen=True)
class Column:
    name: str
    _values: tuple[Any, ...]

    def values(self) -> tuple[Any, ...]:
        return self._values


class Columns(list[Column]):
    """agate's columns: a sequence that is also a mapping by name (`columns['id']`, `.items()`)."""

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            found = [c for c in self if c.name == key]
            if not found:
                raise KeyError(key)
            return found[0]
        return super().__getitem__(key)

    def keys(self) -> list[str]:
        return [c.name for c in self]

    def values(self) -> list[Column]:
        return list(self)

    def items(self) -> list[tuple[str, Column]]:
        return [(c.name, c) for c in self]


class Row(tuple[Any, ...]):
    """agate's row: a sequence that is also read by column name (`row.table_name`, `row['id']`)."""

    names: tuple[str, ...] = ()

    @classmethod
    def of(cls, names: tuple[str, ...], values: tuple[Any, ...]) -> Row:
        row = cls(values)
        row.names = names
        return row

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or name not in self.names:
            raise AttributeError(name)
        return tuple.__getitem__(self, self.names.index(name))

    def __getitem__(self, key: Any) -> Any:
        return tuple.__getitem__(self, self.names.index(key)) if isinstance(key, str) else tuple.__getitem__(self, key)

    def keys(self) -> tuple[str, ...]:
        return self.names

    def values(self) -> tuple[Any, ...]:
        return tuple(self)

    def items(self) -> list[tuple[str, Any]]:
        return list(zip(self.names, self, strict=True))

    def dict(self) -> dict[str, Any]:
        return dict(self.items())


@dataclass(frozen=True)
class Table:
    """The little of dbt's agate table that macros read: rows (by position or column name),
    columns, their names."""

    column_names: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "rows", tuple(Row.of(self.column_names, tuple(row)) for row in self.rows))

    @property
    def columns(self) -> Columns:
        return Columns(Column(name, tuple(row[i] for row in self.rows)) for i, name in enumerate(self.column_names))

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index: int) -> tuple[Any, ...]:
        return self.rows[index]


class CompileTimeQueries:
    """The queries of constants one compile answers (dbt_jinja.DbtQueries asks)."""

    def __init__(self, dialect: str):
        self.dialect = dialect
        self._connection: Any = None

    def run(self, sql: str) -> Table:
        query = self._constant_query(sql)
        if self._connection is None:
            import duckdb

            self._connection = duckdb.connect(
                ":memory:",
                config={"enable_external_access": False, "autoinstall_known_extensions": False, "autoload_known_extensions": False},
            )
        cursor = self._connection.execute(query.sql(DEFAULT_DIALECT))  # the default engine's, embedded and always installed
        return Table(tuple(d[0] for d in cursor.description or ()), tuple(tuple(row) for row in cursor.fetchall()))

    def _constant_query(self, sql: str) -> exp.Query:
        try:
            parsed = [s for s in sqlglot.parse(sql, read=self.dialect) if s is not None]
        except ParseError as exc:
            raise DslError(f"the query run while compiling is not valid SQL: {str(exc).splitlines()[0]}") from exc
        if len(parsed) != 1 or not isinstance(parsed[0], exp.Query):
            raise DslError("the query run while compiling must be one SELECT", hint=_HINT)
        query = parsed[0]
        tables = sorted({t.sql(self.dialect) for t in query.find_all(exp.Table)})
        if tables:
            raise DslError(
                f"the query run while compiling reads {', '.join(tables)}; FlowForge compiles without the warehouse, so only a query of constants can run",
                hint=_HINT,
            )
        volatile = [node for node in query.walk() if isinstance(node, _VOLATILE) or (isinstance(node, exp.Anonymous) and str(node.this).lower() in _VOLATILE_NAMES)]
        if volatile:
            raise DslError(
                f"the query run while compiling uses {volatile[0].sql(self.dialect)}, whose value changes between runs, and the plan would keep the one of the day it compiled",
                hint=_HINT,
            )
        return query
