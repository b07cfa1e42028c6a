"""FlowForge's own rewrites: where sqlglot's translation of a construct would change its meaning.

Each rewrite keeps the *source* dialect's semantics (DuckDB's, by default) on one target
dialect, and is a small class in one registry. A construct without a faithful form raises
`NotPortable`, which the compiler reports with the model's file and the construct's name.

The PostgreSQL forms below stay correct whatever the argument's type (which the compiler does
not know): `x * 100` keeps numeric arithmetic exact and double arithmetic double, and
`x + interval '0 seconds'` turns a date into a timestamp but leaves timestamps as they are.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from sqlglot import exp


class NotPortable(Exception):
    """A construct with no faithful form on the target dialect."""

    def __init__(self, construct: str, target: str, hint: str):
        super().__init__(f"{construct} has no faithful {target} form")
        self.construct, self.target, self.hint = construct, target, hint


@dataclass(frozen=True)
class Rewrite:
    """Rewrites one kind of node for one (source, target) pair of dialects."""

    source: ClassVar[str]
    target: ClassVar[str]
    node: ClassVar[type[exp.Expression]]
    support: ClassVar[tuple[str, ...]] = ()  # statements the engine must run first (helper functions)

    def apply(self, node: exp.Expression) -> exp.Expression:
        raise NotImplementedError


_INTEGER_RANGES = {
    exp.DataType.Type.SMALLINT: 32767,
    exp.DataType.Type.INT: 2147483647,
    exp.DataType.Type.BIGINT: 9223372036854775807,
}
_FLOATING = {exp.DataType.Type.DOUBLE, exp.DataType.Type.FLOAT, exp.DataType.Type.DECIMAL}
_NUMBER = r"^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$"
_FLOAT = r"^[+-]?(([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?|inf|infinity|nan)$"


def _sql(text: str) -> exp.Expression:
    return exp.maybe_parse(text, dialect="postgres")


class TryCastToPostgres(Rewrite):
    """DuckDB's `try_cast(x AS INT)` is NULL for text that is no number and for overflow, and
    rounds `'2.5'` to 3; PostgreSQL has no try_cast (sqlglot writes a plain CAST, which fails
    on dirty text)."""

    source, target, node = "duckdb", "postgres", exp.TryCast

    def apply(self, node: exp.Expression) -> exp.Expression:
        to = node.args["to"]
        kind = to.this
        text = f"TRIM(CAST({node.this.sql('postgres')} AS TEXT))"
        if kind in _INTEGER_RANGES:
            limit = _INTEGER_RANGES[kind]
            number = f"ROUND(CAST({text} AS NUMERIC))"
            return _sql(
                f"CASE WHEN NOT {text} ~ '{_NUMBER}' THEN NULL "
                f"WHEN {number} BETWEEN -{limit} AND {limit} THEN CAST({number} AS {to.sql('postgres')}) END"
            )
        if kind in _FLOATING:
            return _sql(f"CASE WHEN {text} ~* '{_FLOAT}' THEN CAST({text} AS {to.sql('postgres')}) END")
        raise NotPortable(
            f"try_cast(... AS {to.sql('duckdb')})",
            self.target,
            "PostgreSQL has no try_cast; FlowForge emulates it for integer and floating types only: "
            "use cast() where the text is clean, or config(transpile=false)",
        )


# DuckDB's round(double, n) is the exact binary value rounded half away from zero (checked on
# 12,000 values); `floor(x * 10^n + 0.5)` misses about 1% of two-decimal values (2.675 -> 2.68).
# The double overload works on the exact value (decoded from the IEEE bits, so in whole numbers);
# the numeric one is PostgreSQL's own half-away round. Overloads choose by the argument's type,
# which the compiler does not know.
POSTGRES_ROUND = (
    """CREATE OR REPLACE FUNCTION ff_round_v1(x double precision, n integer) RETURNS double precision
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $fn$
DECLARE
  bits bigint;
  e integer;
  m numeric;
  shift integer;
  whole numeric;
  unit numeric;
  q numeric;
BEGIN
  IF x = 0 OR x = 'Infinity'::float8 OR x = '-Infinity'::float8 OR x = 'NaN'::float8 OR n < 0 THEN
    RETURN CASE WHEN n < 0 THEN NULL ELSE x END;
  END IF;
  bits := ('x' || encode(float8send(abs(x)), 'hex'))::bit(64)::bigint;
  e := (bits >> 52) & 2047;
  m := (bits & 4503599627370495)::numeric;
  IF e > 0 THEN m := m + 4503599627370496; shift := 1075 - e; ELSE shift := 1074; END IF;
  IF shift <= n THEN RETURN x; END IF;
  whole := m * (5::numeric ^ shift);
  unit := 10::numeric ^ (shift - n);
  q := div(whole, unit);
  IF 2 * (whole - q * unit) >= unit THEN q := q + 1; END IF;
  RETURN sign(x) * (q / (10::numeric ^ n))::double precision;
END
$fn$""",
    """CREATE OR REPLACE FUNCTION ff_round_v1(x numeric, n integer) RETURNS numeric
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $fn$ SELECT round(x, n) $fn$""",
)


class RoundToPostgres(Rewrite):
    """DuckDB rounds halves away from zero for every type; PostgreSQL's `round(double)` rounds
    them to even and `round(double, n)` does not exist."""

    source, target, node = "duckdb", "postgres", exp.Round
    support = POSTGRES_ROUND

    def apply(self, node: exp.Expression) -> exp.Expression:
        decimals = node.args.get("decimals") or exp.Literal.number(0)
        return exp.Anonymous(this="ff_round_v1", expressions=[node.this, exp.cast(decimals, "int")])


class DateTruncToPostgres(Rewrite):
    """DuckDB's `date_trunc` of a date is a timestamp; PostgreSQL's is a timestamp with time
    zone. Adding a zero interval makes a date a timestamp and leaves timestamps alone."""

    source, target, node = "duckdb", "postgres", exp.TimestampTrunc

    def apply(self, node: exp.Expression) -> exp.Expression:
        unit = node.args["unit"].name.lower()
        return _sql(f"DATE_TRUNC('{unit}', {node.this.sql('postgres')} + INTERVAL '0 seconds')")


class StarModifiersToPostgres(Rewrite):
    """`SELECT * EXCLUDE (...)` and `* REPLACE (...)` need the column list, which the compiler
    does not know."""

    source, target, node = "duckdb", "postgres", exp.Star

    def apply(self, node: exp.Expression) -> exp.Expression:
        for key, construct in (("except_", "SELECT * EXCLUDE (...)"), ("replace", "SELECT * REPLACE (...)")):
            if node.args.get(key):
                raise NotPortable(construct, self.target, "list the columns you want instead")
        return node


class ColumnsToPostgres(Rewrite):
    source, target, node = "duckdb", "postgres", exp.Columns

    def apply(self, node: exp.Expression) -> exp.Expression:
        raise NotPortable("COLUMNS(...)", self.target, "list the columns you want instead")


REWRITES: list[Rewrite] = [
    TryCastToPostgres(),
    RoundToPostgres(),
    DateTruncToPostgres(),
    StarModifiersToPostgres(),
    ColumnsToPostgres(),
]


def rewrite(tree: exp.Expression, source: str, target: str, support: set[str] | None = None) -> exp.Expression:
    """`tree` with every rewrite for the pair applied, children first (so a rewrite renders
    already rewritten arguments); the support statements the rewrites need go into `support`."""
    chosen = {r.node: r for r in REWRITES if r.source == source and r.target == target}
    if not chosen:
        return tree

    def visit(node: exp.Expression) -> exp.Expression:
        for key, value in list(node.args.items()):
            if isinstance(value, exp.Expression):
                node.set(key, visit(value))
            elif isinstance(value, list):
                node.set(key, [visit(v) if isinstance(v, exp.Expression) else v for v in value])
        rule = chosen.get(type(node))
        if rule is None:
            return node
        if support is not None:
            support.update(rule.support)
        return rule.apply(node)

    return visit(tree)
