"""Every statement FlowForge itself issues, built as a sqlglot expression and rendered in the
engine's dialect.

Names follow the one quoting rule of `flowforge_compiler.sql_names` (each part a quoted
identifier, in the engine's own quote characters). A relation given as text is one name (a
node's, in the profile's schema), never a dotted string to split; a schema-qualified one comes as
a `Relation`. A model's SQL (already in the engine's dialect, checked at compile time to be one
query) is the only text FlowForge does not build: it goes where the statement's query goes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from sqlglot import exp
from sqlglot.dialects.dialect import Dialect

from flowforge_compiler.engine_sdk import DEFAULT_DIALECT
from flowforge_compiler.rewrites import Rewrite, rewrite
from flowforge_compiler.sql_names import QUERY_PLACEHOLDER, Name, column, count_star, literal, relation

_QUERY = QUERY_PLACEHOLDER  # the placeholder a model's own SQL replaces


def _key_comes_again(source: Name, keys: Sequence[str]) -> exp.Exists:
    """EXISTS a row of `source` (as ff_new) with the keys of the row `ff_old`."""
    condition = exp.and_(*(exp.EQ(this=column(k, "ff_new"), expression=column(k, "ff_old")) for k in keys))
    return exp.Exists(this=exp.select(exp.Literal.number(1)).from_(relation(source).as_("ff_new", quoted=True)).where(condition))


@dataclass(frozen=True)
class Statements:
    """The statement builders of one dialect. Statements are built as FlowForge's own
    (DuckDB-flavoured) expressions; the engine's rewrites apply to them as to models' SQL,
    where sqlglot alone would render a construct the engine does not have."""

    dialect: str
    rewrites: tuple[Rewrite, ...] = ()

    @cached_property
    def _generator(self) -> Dialect:
        return Dialect.get_or_raise(self.dialect)

    def sql(self, expression: exp.Expr) -> str:
        """The expression in this dialect (the caller's expression is left as it was)."""
        if self.rewrites:
            expression = rewrite(expression.copy(), DEFAULT_DIALECT, self.rewrites)
        return self._generator.generate(expression)

    @cached_property
    def _marker(self) -> str:
        return self.sql(exp.Placeholder(this=_QUERY))

    def with_query(self, expression: exp.Expr, query: str) -> str:
        """Render `expression`, whose query is the placeholder, with the model's SQL in its place."""
        text = self.sql(expression)
        head, found, tail = text.rpartition(self._marker)
        assert found, f"no query placeholder in {text!r}"
        return f"{head}\n{query}{tail}"

    # -- tables and views --------------------------------------------------------------------

    def create_table_as(self, name: Name, query: str) -> str:
        return self.with_query(exp.Create(this=relation(name), kind="TABLE", expression=exp.Placeholder(this=_QUERY)), query)

    def create_table_from(self, name: Name, source: str) -> str:
        """CREATE TABLE name AS SELECT * FROM source."""
        return self.sql(exp.Create(this=relation(name), kind="TABLE", expression=self.select_all(source)))

    def create_table(self, name: Name, columns: Sequence[tuple[str, str]], *, exists: bool = False) -> str:
        """CREATE TABLE [IF NOT EXISTS] name (column type, ...); types in this dialect."""
        definitions = [exp.ColumnDef(this=exp.to_identifier(c, quoted=True), kind=exp.DataType.build(t, dialect=self.dialect)) for c, t in columns]
        return self.sql(exp.Create(this=exp.Schema(this=relation(name), expressions=definitions), kind="TABLE", exists=exists))

    def select_where(self, name: Name, columns: Sequence[str], where: exp.Expr) -> str:
        return self.sql(exp.select(*(column(c) for c in columns)).from_(relation(name)).where(where))

    def delete_where(self, name: Name, where: exp.Expr) -> str:
        return self.sql(exp.delete(relation(name), where=where))

    def update_where(self, name: Name, values: dict[str, exp.Expr], where: exp.Expr) -> str:
        assignments = [exp.EQ(this=column(k), expression=v) for k, v in values.items()]
        return self.sql(exp.Update(this=relation(name), expressions=assignments, where=exp.Where(this=where)))

    def create_view_as(self, name: Name, query: str, *, replace: bool = False) -> str:
        create = exp.Create(this=relation(name), kind="VIEW", replace=replace, expression=exp.Placeholder(this=_QUERY))
        return self.with_query(create, query)

    def drop(self, kind: str, name: Name, *, if_exists: bool = False, cascade: bool = False) -> str:
        return self.sql(exp.Drop(tables=[relation(name)], kind=kind.upper(), exists=if_exists, cascade=cascade))

    def rename(self, old: Name, new: str) -> str:
        """ALTER TABLE old RENAME TO new (a name: the table stays in its schema)."""
        target = exp.table_(new, quoted=True)
        return self.sql(exp.Alter(this=relation(old), kind="TABLE", actions=[exp.AlterRename(this=target)]))

    def swap(self, a: Name, b: Name) -> str:
        """ALTER TABLE a SWAP WITH b: the two tables exchange names in one step (Snowflake)."""
        return self.sql(exp.Alter(this=relation(a), kind="TABLE", actions=[exp.SwapTable(this=relation(b))]))

    def create_schema(self, name: str, database: str | None = None) -> str:
        target = exp.table_(name, db=database, quoted=True) if database else exp.to_identifier(name, quoted=True)
        return self.sql(exp.Create(this=target, kind="SCHEMA", exists=True))

    def drop_schema(self, name: str) -> str:
        return self.sql(exp.Drop(tables=[exp.table_(name, quoted=True)], kind="SCHEMA", exists=True, cascade=True))

    def use_schema(self, schema: str, database: str | None = None) -> str:
        return self.sql(exp.Use(kind=exp.var("SCHEMA"), this=exp.table_(schema, db=database, quoted=True)))

    # -- queries -----------------------------------------------------------------------------

    def select_all(self, name: Name, *, limit: int | None = None) -> exp.Select:
        query = exp.select("*").from_(relation(name))
        return query.limit(limit) if limit is not None else query

    def count_rows(self, name: Name) -> str:
        return self.sql(exp.select(count_star()).from_(relation(name)))

    def no_rows(self, name: Name) -> str:
        """The relation's columns and no row."""
        return self.sql(self.select_all(name, limit=0))

    def column_types(self, name: Name) -> str:
        """Each column of `name`, its type and the type's size, precision and scale, from
        information_schema, in column order (a name without a schema is looked up in the current one)."""
        table, schema = (name, None) if isinstance(name, str) else (name.name, name.schema_)
        within = exp.Literal.string(schema) if schema else exp.func("current_schema")
        query = (
            exp.select("column_name", "data_type", "character_maximum_length", "numeric_precision", "numeric_scale")
            .from_(exp.table_("columns", db="information_schema"))
            .where(exp.and_(exp.column("table_schema").eq(within), exp.column("table_name").eq(exp.Literal.string(table))))
            .order_by("ordinal_position")
        )
        return self.sql(query)

    def typed_copy(self, source: Name, columns: Sequence[str], types: dict[str, str]) -> str:
        """SELECT each column of `source`, cast where `types` names a type (seeds/schema.yml)."""
        selected = [
            exp.cast(column(c), exp.DataType.build(types[c], dialect=self.dialect)).as_(c, quoted=True) if c in types else column(c)
            for c in columns
        ]
        return self.sql(exp.select(*selected).from_(relation(source)))

    # -- incremental models ------------------------------------------------------------------

    def insert_all(self, target: Name, source: Name, columns: Sequence[str]) -> str:
        names = [column(c) for c in columns]
        return self.sql(exp.insert(exp.select(*names).from_(relation(source)), relation(target), columns=[exp.to_identifier(c, quoted=True) for c in columns]))

    def insert_values(self, target: Name, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
        """INSERT INTO target (columns) VALUES (...), ... with each value a literal."""
        values = exp.Values(expressions=[exp.Tuple(expressions=[literal(v) for v in row]) for row in rows])
        return self.sql(exp.insert(values, relation(target), columns=[exp.to_identifier(c, quoted=True) for c in columns]))

    def delete_matching(self, target: Name, source: Name, keys: Sequence[str]) -> str:
        """DELETE the rows of `target` whose keys come again in `source`."""
        return self.sql(exp.delete(relation(target).as_("ff_old", quoted=True), where=_key_comes_again(source, keys)))

    def kept_and_new(self, target: Name, source: Name, keys: Sequence[str], columns: Sequence[str]) -> str:
        """The rows of `target` whose keys do not come again in `source`, then all of `source`:
        delete+insert as one query, for engines whose tables take no DELETE."""
        names = [column(c) for c in columns]
        kept = exp.select(*names).from_(relation(target).as_("ff_old", quoted=True)).where(exp.not_(_key_comes_again(source, keys)))
        return self.sql(exp.union(kept, exp.select(*names).from_(relation(source)), distinct=False))

    def merge(self, target: Name, source: Name, keys: Sequence[str], columns: Sequence[str]) -> str:
        """MERGE `source` into `target`: a row whose keys match updates that row, the others
        are inserted."""
        on = exp.and_(*(exp.EQ(this=column(k, "ff_old"), expression=column(k, "ff_new")) for k in keys))
        updates = [exp.EQ(this=column(c), expression=column(c, "ff_new")) for c in columns if c not in keys]
        insert = exp.Insert(
            this=exp.Tuple(expressions=[column(c) for c in columns]),
            expression=exp.Tuple(expressions=[column(c, "ff_new") for c in columns]),
        )
        whens = [exp.When(matched=True, then=exp.Update(expressions=updates))] if updates else []
        whens.append(exp.When(matched=False, then=insert))
        return self.sql(exp.Merge(
            this=relation(target).as_("ff_old", quoted=True),
            using=relation(source).as_("ff_new", quoted=True),
            on=on,
            whens=exp.Whens(expressions=whens),
        ))

    def begin(self) -> str:
        return self.sql(exp.Transaction())

    def commit(self) -> str:
        return self.sql(exp.Commit())

    def rollback(self) -> str:
        return self.sql(exp.Rollback())

    def transaction_script(self, statements: Sequence[str]) -> str:
        """Statements run as one multi-statement transaction (one script, one job)."""
        return ";\n".join([self.begin(), *statements, self.commit()]) + ";"

    # -- _ff_meta ----------------------------------------------------------------------------

    def create_meta(self, name: str) -> str:
        columns = [("node_name", "VARCHAR"), ("relation", "VARCHAR"), ("fingerprint", "VARCHAR"), ("engine", "VARCHAR"), ("built_at", "TIMESTAMP")]
        # types named as the engine names them (BigQuery's TIMESTAMP holds an instant, like CURRENT_TIMESTAMP)
        definitions = [exp.ColumnDef(this=exp.to_identifier(c), kind=exp.DataType.build(t, dialect=self.dialect)) for c, t in columns]
        return self.sql(exp.Create(this=exp.Schema(this=relation(name), expressions=definitions), kind="TABLE", exists=True))

    def insert_meta(self, name: str, values: Sequence[str]) -> str:
        row = exp.Tuple(expressions=[*(literal(v) for v in values), exp.CurrentTimestamp()])
        return self.sql(exp.insert(exp.Values(expressions=[row]), relation(name)))

    def latest_meta(self, name: str) -> str:
        """The newest row of every node: node_name, fingerprint, built_at in epoch seconds."""
        ranked = exp.select(
            "*",
            exp.Window(
                this=exp.RowNumber(),
                partition_by=[exp.column("node_name")],
                order=exp.Order(expressions=[exp.Ordered(this=exp.column("built_at"), desc=True)]),
            ).as_("ff_rank"),
        ).from_(relation(name))
        epoch = exp.TimeToUnix(this=exp.column("built_at")).as_("built_at")  # whole seconds on some engines
        query = exp.select("node_name", "fingerprint", epoch).from_(ranked.subquery("ranked")).where("ff_rank = 1")
        return self.sql(query)
