"""sqlglot nodes for what FlowForge names in its own SQL: relations, columns, values.

One quoting rule, shared by the check types of the plan and the runtime's statements: each part
of a relation and each column is a quoted identifier, so dots, quotes and upper case in names
reach the engine intact; a value is a literal, escaped by the dialect it is rendered in.
"""

from __future__ import annotations

from typing import Any

from sqlglot import exp

from flowforge_compiler.relation import Relation

Name = str | Relation  # one name, or (catalog, schema, name)
QUERY_PLACEHOLDER = "ff_model_query"  # where a statement takes a query written elsewhere (a model's, a dbt test's), as its text


def relation(name: Name) -> exp.Table:
    """A relation as a table of quoted identifiers."""
    if isinstance(name, str):
        return exp.table_(name, quoted=True)
    return exp.table_(name.name, db=name.schema_, catalog=name.catalog, quoted=True)


def column(name: str, table: str | None = None) -> exp.Column:
    return exp.column(name, table=table, quoted=True)


def literal(value: Any) -> exp.Expr:
    """A Python value as a SQL literal, escaped for the dialect it is rendered in."""
    return exp.convert(value)


def count_star() -> exp.Expr:
    return exp.Count(this=exp.Star())
