"""The warehouse as a dbt template rendered at run time reads it (`flowforge_compiler.dsl.Warehouse`):
a query's rows, whether a relation exists, its columns' types, answered by the executor."""

from __future__ import annotations

from typing import Any

from sqlglot.tokens import Tokenizer, TokenType

from flowforge_compiler.plan import Relation
from runtime.executors.base import Executor


class ExecutorWarehouse:
    def __init__(self, executor: Executor):
        self._executor = executor

    def query(self, sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
        """A query's column names and rows; a statement that returns none (dbt's `run_query` of
        DDL or DML, in a run-operation) runs, and gives none."""
        if not _returns_rows(sql):
            self._executor.execute(sql)
            return [], []
        table = self._executor.read_arrow(sql)
        return list(table.column_names), [tuple(row.values()) for row in table.to_pylist()]

    def relation_exists(self, schema: str | None, identifier: str) -> bool:
        return self._executor.relation_kind(Relation(name=identifier, schema_=schema)) is not None

    def column_types(self, schema: str | None, identifier: str) -> list[tuple[str, str, int | None, int | None, int | None]]:
        return self._executor.column_types(Relation(name=identifier, schema_=schema))


_ROWS = {TokenType.SELECT, TokenType.WITH, TokenType.VALUES, TokenType.L_PAREN, TokenType.SHOW, TokenType.DESCRIBE, TokenType.FROM, TokenType.TABLE, TokenType.PRAGMA}


def _returns_rows(sql: str) -> bool:
    """Whether a statement is a query (its first token), read without parsing the whole."""
    tokens = Tokenizer().tokenize(sql)
    return bool(tokens) and tokens[0].token_type in _ROWS
