"""The data-quality check types: one declaration each, the plan entry with its query.

A check type is one class: its fields are the parameters users write in project.yml `tests:`
and the plan stores (the project file's model is derived from them, validators included), and
its `query` turns the check into one SQL query built with sqlglot (the runtime renders it in the
engine's dialect and runs it), a verdict on its value, a message, and the SQL that lists the
failing rows. Nothing here runs: building a query is pure, so it lives with the plan.

Adding a check type is one class below: give it `type: Literal["name"]`, its parameters and
`query`; it joins the plan's union, project.yml's and the docs' catalog.
"""

from __future__ import annotations

import builtins
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal, Union, get_args

import sqlglot
from pydantic import BaseModel, BeforeValidator, Field, create_model, model_validator
from sqlglot import exp

from flowforge_compiler.relation import IRModel, Relation
from flowforge_compiler.sql_names import QUERY_PLACEHOLDER, column, count_star, literal, relation
from flowforge_compiler.yaml_files import Strict


@dataclass(frozen=True)
class CheckQuery:
    """How to evaluate one check: a scalar query, a verdict on its value, the failing rows."""

    value_sql: str
    fails: Callable[[Any], bool]
    message: Callable[[Any], str]
    failing_rows_sql: str
    counts_rows: bool = True  # the value is the number of failing rows (else one failure)


@dataclass(frozen=True)
class CheckedRows:
    """Where a check looks, as the runtime gives it: the table (or its `where:` subset), the
    engine's renderer, and its dialect (for SQL the plan holds as text)."""

    source: exp.Expr
    render: Callable[[exp.Expr], str]
    dialect: str
    # renders an expression whose query is `placeholder()` with SQL text in its place, as written
    with_query: Callable[[exp.Expr, str], str] | None = None

    @staticmethod
    def placeholder() -> exp.Placeholder:
        return exp.Placeholder(this=QUERY_PLACEHOLDER)

    def rows(self) -> exp.Select:
        return exp.select("*").from_(self.source.copy())


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _not_null(col: exp.Expr) -> exp.Expr:
    return exp.Not(this=exp.Is(this=col, expression=exp.Null()))


_THRESHOLD = re.compile(r"^\s*(!=|<>|>=|<=|==|=|>|<)\s*(-?\d+(?:\.\d+)?)\s*$")
_COMPARE: dict[str, Callable[[float, float], bool]] = {
    "!=": operator.ne, "<>": operator.ne, ">=": operator.ge, "<=": operator.le, "==": operator.eq, "=": operator.eq,
    ">": operator.gt, "<": operator.lt,
}  # fmt: skip


def _threshold(value: object) -> object:
    """dbt's `warn_if` / `error_if`: a comparison of the failures with a number (`>10`, `!= 0`)."""
    if value is None:
        return None
    text = str(value)
    if not _THRESHOLD.match(text):
        raise ValueError(f"{text!r} is not a threshold: write a comparison with a number, such as '>10' or '!= 0'")
    return " ".join(text.split())


Threshold = Annotated[str, BeforeValidator(_threshold)]


def _meets(failures: float, threshold: str | None) -> bool:
    found = _THRESHOLD.match(threshold or "!= 0")
    assert found is not None  # validated when the plan was read
    return _COMPARE[found.group(1)](failures, float(found.group(2)))


class PlanCheck(IRModel):
    """A data-quality check and the node whose table it guards; each type below adds its own
    typed parameters, so the plan says exactly what a check needs."""

    id: str
    type: str
    table: str  # as shown to people: the relation's name, schema-qualified for a source
    relation: Relation
    node: str | None
    nodes: list[str] = Field(default_factory=list)  # every node the check reads
    severity: Literal["error", "warn"] = "error"
    where: str | None = None  # in the engine's dialect
    tags: list[str] = Field(default_factory=list)
    # dbt's thresholds on the failures: an error-severity check fails when `error_if` holds, else
    # warns when `warn_if` holds (None: dbt's default, `!= 0`)
    warn_if: Threshold | None = None
    error_if: Threshold | None = None
    # A dbt test whose template reads the warehouse while compiling renders when it runs (as a
    # node's `render_at_run_time`): why, with the file and line
    render_at_run_time: str | None = None

    # parameters that name another table: as written -> the field the compiler stores its
    # relation in (the check reads that table's node too)
    binds: ClassVar[dict[str, str]] = {}
    written_in_project: ClassVar[bool] = True  # project.yml `tests:` may name it
    registry: ClassVar[dict[str, builtins.type[PlanCheck]]] = {}

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        PlanCheck.registry[get_args(cls.model_fields["type"].annotation)[0]] = cls

    @property
    def label(self) -> str:
        """The check's subject in messages: table, or table.column."""
        name = getattr(self, "column", None)
        return f"{self.table}.{name}" if name else self.table

    def verdict(self, failures: float) -> tuple[str, str]:
        """The status and the severity a failing result is reported with, as dbt decides them:
        with severity error, `error_if` holding fails; else `warn_if` holding warns; else it passes."""
        if self.severity == "error" and _meets(failures, self.error_if):
            return "fail", "error"
        if _meets(failures, self.warn_if):
            return "fail", "warn"
        return "pass", self.severity

    def query(self, on: CheckedRows) -> CheckQuery:
        raise NotImplementedError

    def count_where(self, on: CheckedRows, condition: exp.Expr, what: Callable[[int], str]) -> CheckQuery:
        """A check that fails when some row meets `condition`."""
        return CheckQuery(
            value_sql=on.render(exp.select(count_star()).from_(on.source.copy()).where(condition)),
            fails=lambda n: int(n) > 0,
            message=lambda n: f"{self.label} has {what(int(n))}",
            failing_rows_sql=on.render(on.rows().where(condition)),
        )

    @classmethod
    def spec_model(cls) -> builtins.type[BaseModel]:
        """The entry users write in project.yml: the common keys plus this type's parameters
        (not the relations the compiler binds), checked by this type's validators."""
        own = {
            name: (info.annotation, info)
            for name, info in cls.model_fields.items()
            if name not in PlanCheck.model_fields and name not in cls.binds.values()
        }
        validators = {
            name: model_validator(mode=d.info.mode)(d.func)
            for name, d in cls.__pydantic_decorators__.model_validators.items()
        }
        model: builtins.type[BaseModel] = create_model(  # type: ignore[call-overload]
            f"{cls.__name__}Check",
            __base__=CheckSpec,
            __validators__=validators,
            type=(cls.model_fields["type"].annotation, ...),
            **own,
        )
        return model


class CheckSpec(Strict):
    """What every entry of project.yml `tests:` may say, whatever its type."""

    type: str
    table: str
    tags: list[str] = Field(default_factory=list)
    severity: Literal["error", "warn"] = "error"
    warn_if: Threshold | None = None
    error_if: Threshold | None = None
    where: str | None = None
    name: str | None = None


class NotNull(PlanCheck):
    type: Literal["not_null"]
    column: str

    def query(self, on: CheckedRows) -> CheckQuery:
        return self.count_where(on, exp.Is(this=column(self.column), expression=exp.Null()), lambda n: _plural(n, "null value"))


class Unique(PlanCheck):
    type: Literal["unique"]
    column: str

    def query(self, on: CheckedRows) -> CheckQuery:
        col = column(self.column)
        duplicates = (
            exp.select(col).from_(on.source.copy()).where(_not_null(col))
            .group_by(col).having(exp.GT(this=count_star(), expression=exp.Literal.number(1)))
        )
        return CheckQuery(
            value_sql=on.render(exp.select(count_star()).from_(duplicates.subquery("duplicates"))),
            fails=lambda n: int(n) > 0,
            message=lambda n: f"{self.label} has {_plural(int(n), 'duplicate')}",
            failing_rows_sql=on.render(on.rows().where(exp.In(this=col, query=duplicates.subquery()))),
        )


class GreaterEqual(PlanCheck):
    type: Literal["greater_equal"]
    column: str
    threshold: bool | int | float | str = 0  # kept as written: 0 stays 0, so boolean columns compare

    def query(self, on: CheckedRows) -> CheckQuery:
        shown = f"{self.threshold:g}" if isinstance(self.threshold, float) else str(self.threshold)
        below = exp.LT(this=column(self.column), expression=literal(self.threshold))
        return self.count_where(on, below, lambda n: f"{_plural(n, 'value')} below {shown}")


class NonNegativeSum(PlanCheck):
    type: Literal["non_negative_sum"]
    column: str

    def query(self, on: CheckedRows) -> CheckQuery:
        col = column(self.column)
        total = exp.Coalesce(this=exp.Sum(this=col), expressions=[exp.Literal.number(0)])
        return CheckQuery(
            value_sql=on.render(exp.select(total).from_(on.source.copy())),
            fails=lambda value: float(value) < 0,
            message=lambda value: f"sum({self.label}) is {float(value):g}, below 0",
            failing_rows_sql=on.render(on.rows().where(exp.LT(this=col, expression=exp.Literal.number(0)))),
            counts_rows=False,
        )


class RowCountBetween(PlanCheck):
    type: Literal["row_count_between"]
    min: int = 1
    max: int | None = None

    @model_validator(mode="after")
    def _ordered(self) -> RowCountBetween:
        if self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min}) is greater than max ({self.max})")
        return self

    def query(self, on: CheckedRows) -> CheckQuery:
        low, high = self.min, self.max
        bounds = f"between {low} and {high}" if high is not None else f"at least {low}"
        return CheckQuery(
            value_sql=on.render(exp.select(count_star()).from_(on.source.copy())),
            fails=lambda n: int(n) < low or (high is not None and int(n) > high),
            message=lambda n: f"{self.label} has {_plural(int(n), 'row')}, expected {bounds}",
            failing_rows_sql=on.render(exp.select(count_star().as_("row_count")).from_(on.source.copy())),
            counts_rows=False,
        )


class Freshness(PlanCheck):
    type: Literal["freshness"]
    column: str
    max_delay_minutes: float

    def query(self, on: CheckedRows) -> CheckQuery:
        limit, latest = float(self.max_delay_minutes), exp.Max(this=column(self.column))
        # seconds since the epoch on both sides (a timestamp without zone counts as UTC), so
        # every engine subtracts numbers, not its own interval type
        age = exp.Sub(this=exp.TimeToUnix(this=exp.CurrentTimestamp()), expression=exp.TimeToUnix(this=latest))
        minutes = exp.Div(this=exp.Paren(this=age), expression=exp.Literal.number(60))
        return CheckQuery(
            value_sql=on.render(exp.select(minutes).from_(on.source.copy())),
            fails=lambda value: value is None or float(value) > limit,
            message=lambda value: (
                f"{self.label} has no rows to judge freshness by"
                if value is None
                else f"{self.label} is {float(value):.0f} minutes old (at most {limit:g} allowed)"
            ),
            failing_rows_sql=on.render(exp.select(latest.copy().as_("latest")).from_(on.source.copy())),
            counts_rows=False,
        )


class AcceptedValues(PlanCheck):
    type: Literal["accepted_values"]
    column: str
    values: list[Any]

    def query(self, on: CheckedRows) -> CheckQuery:
        col = column(self.column)
        outside = exp.Not(this=exp.In(this=col, expressions=[literal(v) for v in self.values]))
        shown = ", ".join(map(str, self.values))
        return self.count_where(on, exp.and_(_not_null(col), outside), lambda n: f"{_plural(n, 'value')} outside [{shown}]")


class Relationships(PlanCheck):
    type: Literal["relationships"]
    column: str
    to: str  # as shown to people
    to_relation: Relation
    to_column: str = "id"

    binds: ClassVar[dict[str, str]] = {"to": "to_relation"}

    def query(self, on: CheckedRows) -> CheckQuery:
        col = column(self.column)
        parent = exp.select(exp.Literal.number(1)).from_(relation(self.to_relation).as_("parent", quoted=True))
        parent = parent.where(exp.EQ(this=column(self.to_column, "parent"), expression=col))
        condition = exp.and_(_not_null(col), exp.Not(this=exp.Exists(this=parent)))
        return self.count_where(on, condition, lambda n: f"{_plural(n, 'value')} without a match in {self.to}.{self.to_column}")


class TestCall(IRModel):
    """A generic test's use, to call its macro at run time: the test, what it tests, the use's
    arguments as written and its `where:`."""

    test: str  # `name`, or `package.name`
    table: str  # a model or seed, or source('a', 'b')
    column: str | None = None
    args: dict[str, Any] = Field(default_factory=dict)
    where: str | None = None


class FailingRows(PlanCheck):
    """A query of the failing rows (dbt's singular and generic tests): it fails when it returns
    any, or with `fail_calc` when that aggregate over them is neither 0 nor null. The query and
    the aggregate are parsed again when the query is built, so a plan edited by hand cannot run a
    second statement."""

    type: Literal["sql"]
    sql: str  # one SELECT, in the engine's dialect
    path: str  # the file it is written in, relative to the project
    fail_calc: str | None = None  # dbt's fail_calc: the failures are this aggregate over the rows (not their count)
    # a generic test's use (None: a singular test, its file `path`): what it tests, and what a
    # test rendered at run time calls (`sql` is empty until then)
    call: TestCall | None = None

    written_in_project: ClassVar[bool] = False  # dbt's tests/ and generic tests make them

    def query(self, on: CheckedRows) -> CheckQuery:
        statements = [s for s in sqlglot.parse(self.sql, read=on.dialect) if s is not None]
        if len(statements) != 1 or not isinstance(statements[0], exp.Query):
            raise ValueError(f"check {self.id!r}: its sql is not one query")
        failing = statements[0]
        value: exp.Expr = count_star()
        if self.fail_calc is not None:
            parsed = [s for s in sqlglot.parse(self.fail_calc, read=on.dialect) if s is not None]
            calc = parsed[0] if len(parsed) == 1 else None
            if not isinstance(calc, exp.Condition) or isinstance(calc, exp.Query):
                raise ValueError(f"check {self.id!r}: its fail_calc is not one expression")
            value = calc
        counted = self.fail_calc is None
        # the test's SQL is the engine's already (the compile wrote it so): it runs as written,
        # inside the count, never rewritten again for FlowForge's own statements
        written = self.sql.strip().rstrip(";")
        around = exp.select(value).from_(CheckedRows.placeholder().as_("failing"))
        return CheckQuery(
            value_sql=on.with_query(around, f"({written}\n)") if on.with_query else on.render(exp.select(value).from_(failing.subquery("failing", copy=True))),
            # as dbt: with fail_calc, failing when the aggregate is neither 0 nor null
            fails=(lambda n: int(n) > 0) if counted else (lambda n: n is not None and n != 0),
            message=(lambda n: f"{self.path} returned {_plural(int(n), 'row')}") if counted else (lambda n: f"{self.path}: {self.fail_calc} is {n}"),
            failing_rows_sql=written if on.with_query else on.render(failing),
        )


SPECS: dict[str, builtins.type[BaseModel]] = {
    name: check.spec_model() for name, check in PlanCheck.registry.items() if check.written_in_project
}

if TYPE_CHECKING:
    TypedCheck = PlanCheck
    WrittenCheck = CheckSpec
else:
    # discriminated unions over the registry: the plan's checks, and project.yml's `tests:`
    TypedCheck = Annotated[Union[tuple(PlanCheck.registry.values())], Field(discriminator="type")]  # noqa: UP007
    WrittenCheck = Annotated[Union[tuple(SPECS.values())], Field(discriminator="type")]  # noqa: UP007
