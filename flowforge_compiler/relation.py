"""The plan's base model and its one way of naming a relation, below the plan so that the
declarations the plan is made of (check types) can use them."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class IRModel(BaseModel):
    """Every model of the plan: frozen, and strict about unknown keys."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Relation(IRModel):
    """A relation as (catalog, schema, name): never a dotted string to split, so a name may hold
    dots. A node's relation is its name in the profile's schema; a source's may name a schema."""

    catalog: str | None = None
    schema_: str | None = Field(default=None, alias="schema")
    name: str

    def parts(self) -> tuple[str, ...]:
        return tuple(p for p in (self.catalog, self.schema_, self.name) if p is not None)

    def __str__(self) -> str:
        return ".".join(self.parts())
