"""The executor base class: how a node is built, written once; engines supply the primitives.

Every materialization is atomic. A table is built into `<relation>__ff_tmp` and takes the old
one's place as the engine's capabilities say (`Capabilities.replace`: renamed in the build's
transaction, swapped, or written in place by one atomic job), so a failing model leaves the
previous table and its rows intact. Whether statements share a transaction is a capability too
(`transactions`): the shared code reads both, and no engine overrides `build`.
"""

from __future__ import annotations

import logging
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from flowforge_compiler.authoring import incremental_run
from flowforge_compiler.errors import FlowForgeError, ModelBuildError, ProfileError
from flowforge_compiler.materializations import IncrementalMaterialization
from flowforge_compiler.plan import Plan, PlanNode
from flowforge_compiler.profiles import Profile
from flowforge_compiler.sql_names import Name, relation
from runtime import python_models
from runtime.materializations import materialization_of, node_sql
from runtime.meta_store import MetaStore
from runtime.results import NodeResult
from runtime.statements import Statements

if TYPE_CHECKING:
    import pyarrow as pa

log = logging.getLogger("flowforge")
sql_log = logging.getLogger("flowforge.sql")

RelationKind = Literal["table", "view"]
TEMP_SUFFIX = "__ff_tmp"
OLD_SUFFIX = "__ff_old"  # the previous table while a new one is renamed in, on engines without transactions


@dataclass(frozen=True)
class DependentView:
    name: Name  # schema-qualified where it is not in the profile's schema
    own_name: str | None  # its name when it is in the profile's schema (so maybe a model of the plan)
    definition: str | None  # its query, where replacing the relation drops it; None: kept, to bind again


class ViewNoLongerFits(Exception):
    """A replaced table broke a view that reads it; the engine's message says how."""


class Executor(ABC):
    """Builds plan nodes on one engine. Subclasses implement the abstract primitives only."""

    engine: ClassVar[str]
    meta_store: ClassVar[type[MetaStore]] = MetaStore  # how `_ff_meta` is kept on the engine
    # The settings key naming the schema (dataset, database) nodes build in: unit tests run in a
    # throw-away one of that name. None: the engine says how in `isolated`.
    schema_setting: ClassVar[str | None] = None

    @classmethod
    def isolated(cls, profile: Profile) -> AbstractContextManager[Executor]:
        """An executor no real run uses, for unit tests: by default on a fresh schema, dropped
        afterwards whatever happens."""
        if cls.schema_setting is None:
            raise ProfileError(
                f"unit tests on the {profile.engine} engine are not available in this version",
                hint="run them on an isolated in-memory DuckDB (--engine duckdb) or PostgreSQL (--engine postgres)",
            )
        return throwaway_schema(profile, cls, cls.schema_setting)

    def __init__(self, profile: Profile, *, lock_timeout: float = 60.0):
        self.profile = profile
        self.lock_timeout = lock_timeout
        self.statements = Statements(profile.dialect, profile.spec.rewrites)
        self.capabilities = profile.spec.capabilities
        self.meta = self.meta_store(self)
        self._run_lock = threading.Lock()
        self._building = threading.local()  # .node: the node whose audit row is not written yet
        self._supported: set[str] = set()  # support statements of plans already prepared
        self._catalog: frozenset[str] | None = None  # the relations as read for the second table replaced
        self._tables_replaced = 0

    # -- primitives every engine implements -------------------------------------------------

    @abstractmethod
    def _execute(self, sql: str) -> None:
        """Run one statement on the calling thread's connection."""

    @abstractmethod
    def read_arrow(self, sql: str) -> pa.Table:
        """Run a query and return its result as Arrow."""

    @abstractmethod
    def create_table_from_arrow(self, relation: Name, data: pa.Table) -> None:
        """Create `relation` holding exactly `data` (the relation does not exist yet)."""

    @abstractmethod
    def relation_kind(self, relation: Name) -> RelationKind | None:
        """Whether `relation` exists, and as what."""

    @abstractmethod
    def close(self) -> None:
        """Release connections."""

    # -- names ---------------------------------------------------------------------------------

    def quote(self, name: Name) -> str:
        """A relation as the engine writes it: every part quoted (the one quoting rule)."""
        return self.statements.sql(relation(name))

    def catalog_name(self, name: str) -> str:
        """A relation or column name as the engine's catalog holds it: as written, except on
        engines that fold plain names (Snowflake: upper case)."""
        return name

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One transaction where the engine has them: the node being built is published (its
        `_ff_meta` row) in the same commit that swaps its relation in. Elsewhere statements take
        effect one by one, and `build` publishes once the relation is in place."""
        if not self.capabilities.transactions:
            yield
            return
        with self.atomic():
            yield
            self.publish_pending()

    @property
    def renames_aside(self) -> bool:
        """Whether a replace renames the old table aside first (no transaction holds the swap)."""
        return self.capabilities.replace == "rename" and not self.capabilities.transactions

    @contextmanager
    def atomic(self) -> Iterator[None]:
        """BEGIN ... COMMIT on the calling thread's connection, rolled back on any error."""
        self.execute(self.statements.begin())
        try:
            yield
        except BaseException:
            self.execute(self.statements.rollback())
            raise
        self.execute(self.statements.commit())

    def publish_pending(self) -> None:
        """Publish the node being built, if its audit row is not written yet."""
        node = getattr(self._building, "node", None)
        if node is not None:
            self.meta.publish(node)
            self._building.node = None

    # -- shared behaviour --------------------------------------------------------------------

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def execute(self, sql: str) -> None:
        sql_log.debug("%s", sql)
        self._execute(sql)

    def scalar(self, sql: str) -> Any:
        table = self.read_arrow(sql)
        return table.column(0)[0].as_py() if table.num_rows else None

    def fetch_rows(self, sql: str) -> list[tuple[Any, ...]]:
        """A small query's rows as tuples; engines with a cheaper path than Arrow override it."""
        return [tuple(row.values()) for row in self.read_arrow(sql).to_pylist()]

    def existing_relations(self) -> set[str]:
        """Every table and view of the current schema, in one catalog query."""
        sql = "select table_name from information_schema.tables where table_schema = current_schema()"
        return {row[0] for row in self.fetch_rows(sql)}

    def count_rows(self, name: Name) -> int:
        return int(self.scalar(self.statements.count_rows(name)))

    def drop_relation(self, name: Name) -> None:
        kind = self.relation_kind(name)
        if kind is not None:
            self.execute(self.statements.drop(kind, name))

    # -- the build lifecycle: prepare_run, build, publish ---------------------------------------

    def prepare_run(self, plan: Plan) -> None:
        """Phase 1, idempotent and safe under concurrent tasks, once per executor and plan: the
        `_ff_meta` table and the support statements (helper functions) the plan's SQL calls."""
        self.meta.ensure()
        needed = [sql for sql in plan.support_sql if sql not in self._supported]
        if not needed:
            return
        with self._run_lock:
            needed = [sql for sql in needed if sql not in self._supported]
            if needed:
                self.run_support(needed)
                self._supported.update(needed)

    def run_support(self, statements: list[str]) -> None:
        """Idempotent statements (CREATE OR REPLACE ...); engines where parallel runs race on
        them serialize here."""
        for sql in statements:
            self.execute(sql)

    def build(self, plan: Plan, node: PlanNode, root: Path, *, full_refresh: bool = False) -> NodeResult:
        """Phase 2: build one node with its materialization, which publishes it (phase 3) in
        the transaction that swaps it in. Engine failures become ModelBuildError."""
        started = time.perf_counter()
        self.prepare_run(plan)
        if node.builds_relation:
            self._building.node = node
        self._building.plan = plan
        try:
            with self.building(node):
                rows = materialization_of(node).build(self, plan, node, root, full_refresh=full_refresh)
                self.publish_pending()  # when no transaction published it
        except FlowForgeError:
            raise
        except Exception as exc:  # noqa: BLE001 - the engine's own error, reported with the model
            raise ModelBuildError(node.id, node.path, self.engine, _engine_message(exc)) from exc
        finally:
            self._building.node = None
        return NodeResult(
            node_id=node.id,
            status="built",
            seconds=time.perf_counter() - started,
            relation=node.relation if node.builds_relation else None,
            materialization=node.materialization.type,
            rows=rows,
        )

    @contextmanager
    def building(self, node: PlanNode) -> Iterator[None]:
        """The pre-build hook: what the engine sets up around one node's build (BigQuery labels
        its jobs with the node). By default, where a replace renames the old table aside, a table
        a killed run left aside is put back first."""
        if node.builds_relation and self.renames_aside:
            self.put_back(node.relation)
        yield

    def put_back(self, relation: str) -> None:
        """A run killed between the two renames of a swap left the previous table as `__ff_old`."""
        old = relation + OLD_SUFFIX
        if self.relation_kind(old) != "table":
            return
        if self.relation_kind(relation) is None:
            log.warning("%s: putting back the previous table, left as %s by a run that stopped mid-swap", relation, old)
            self.execute(self.statements.rename(old, relation))
        else:
            self.execute(self.statements.drop("table", old))

    def create_table_as(self, name: str, sql: str) -> int | None:
        """Create a table from a query; engines that report the rows written return the count."""
        self.execute(self.statements.create_table_as(name, sql))
        return None

    def replace_table(self, relation: str, create: Callable[[str], int | None]) -> int:
        """Build into a temporary relation and swap it in, all in one transaction (one commit):
        a failure anywhere leaves the previous relation and its rows as they were. A relation
        that does not exist yet is built under its own name: the transaction keeps that atomic
        too, and a first run saves the temporary table, the drop and the rename.

        An executor that replaces many tables (a run) reads the catalog once, when it comes to its
        second, instead of looking each name up: a name absent then is created straight away, and
        only if that fails is the catalog asked again, in case the relation has appeared since.
        One that replaces a single table (an orchestrator's task) looks that name up, which on a
        large catalog costs less than reading all of it.

        Where one job writes a table in place atomically (`replace: write_truncate`), the table is
        written under its own name: no temporary table, no swap (a view of that name goes first;
        it holds no rows)."""
        if self.capabilities.replace == "write_truncate":
            if self.relation_kind(relation) == "view":
                self.drop_relation(relation)
            return self._create_new(relation, create)
        created = None
        if self._absent_from_catalog(relation):
            created = self._create_unless_it_appears(relation, create, "after the catalog was read")
        elif self.relation_kind(relation) is None:
            # looked up and absent: another process may be creating it right now (two first runs
            # on a fresh schema: the loser gets PostgreSQL's duplicate key in pg_type)
            created = self._create_unless_it_appears(relation, create, "after it was looked up")
        return created if created is not None else self._swap_new(relation, create)

    def _create_unless_it_appears(self, relation: str, create: Callable[[str], int | None], since: str) -> int | None:
        """Create a relation found absent: the rows written, or None when it has appeared since
        (the caller replaces it); any other failure is raised."""
        try:
            with self.transaction():
                return self._create_new(relation, create)
        except Exception:
            if self.relation_kind(relation) is None:
                raise
            log.debug("%s was created %s; replacing it", relation, since)
            return None

    def _swap_new(self, relation: str, create: Callable[[str], int | None]) -> int:
        with self.transaction():
            if self.relation_kind(relation) is None:
                return self._create_new(relation, create)
            tmp = relation + TEMP_SUFFIX
            self.execute(self.statements.drop("table", tmp, if_exists=True))  # left by a killed process
            written = create(tmp)
            rows = written if written is not None else self.count_rows(tmp)
            self.swap_in(tmp, relation)
        return rows

    def _create_new(self, relation: str, create: Callable[[str], int | None]) -> int:
        """Create a relation that does not exist yet under its own name; the rows written."""
        written = create(relation)
        return written if written is not None else self.count_rows(relation)

    def _absent_from_catalog(self, relation: str) -> bool:
        with self._run_lock:
            self._tables_replaced += 1
            if self._tables_replaced == 1:
                return False  # the first: look it up
            if self._catalog is None:
                self._catalog = frozenset(self.existing_relations())
        return self.catalog_name(relation) not in self._catalog

    def drop_quietly(self, relation: str) -> None:
        try:
            self.drop_relation(relation)
        except Exception:  # noqa: BLE001 - cleanup must not hide the original error
            log.debug("could not drop %s after a failed build", relation, exc_info=True)

    def swap_in(self, tmp: str, relation: str) -> None:
        """Replace `relation` by the freshly built `tmp` (inside the caller's transaction, where
        there is one), and make sure every view that reads it still fits its new shape."""
        views = self.dependent_views(relation)
        self.exchange(tmp, relation)
        self.refit_views(relation, views)

    def dependent_views(self, relation: str) -> list[DependentView]:
        """The views that read `relation`, directly or through other views, in the order they
        can be created; engines that track no view dependencies here return none."""
        return []

    def refit_views(self, relation: str, views: list[DependentView]) -> None:
        """After `relation` was replaced: a view that is a model of the plan being built is
        created with the plan's SQL (the project's definition now), any other with its own
        definition, or, where the engine kept it, bound again. One that no longer fits fails
        the build, and the transaction keeps the previous table (as PostgreSQL's re-created
        views do; DuckDB binds a view only when it is read, so it would break unseen)."""
        models = self._view_models()
        for view in views:
            model = models.get(self.catalog_name(view.own_name)) if view.own_name is not None else None
            try:
                if model is not None:
                    self.execute(self.statements.create_view_as(view.name, node_sql(model), replace=True))
                elif view.definition is not None:
                    self.execute(self.statements.create_view_as(view.name, view.definition, replace=True))
                else:
                    self.fetch_rows(self.statements.no_rows(view.name))
            except Exception as exc:  # noqa: BLE001 - reported with the view it concerns
                what = f"the view {view.name} (the model {model.id})" if model is not None else f"the view {view.name} (no model of this project)"
                remedy = f"change {model.path} to fit it" if model is not None else "drop or change that view"
                raise ViewNoLongerFits(
                    f"{what} reads {relation} and does not fit its new shape ({_engine_message(exc)}); "
                    f"the previous {relation} is kept: {remedy}, then build again"
                ) from exc

    def _view_models(self) -> dict[str, PlanNode]:
        plan = getattr(self._building, "plan", None)
        if plan is None:
            return {}
        return {self.catalog_name(n.relation): n for n in plan.nodes if n.materialization.stored_as_view and n.sql is not None}

    def exchange(self, tmp: str, relation: str) -> None:
        """Put `tmp` in the place of `relation` as the engine's replace strategy says: exchanged
        in one step (`swap`), renamed with the old table aside until the new one is in place
        (`rename` without transactions), or dropped and renamed."""
        kind = self.relation_kind(relation)
        if kind == "table" and self.capabilities.replace == "swap":
            self.execute(self.statements.swap(tmp, relation))
            self.execute(self.statements.drop("table", tmp))  # the old rows, now under tmp
            return
        if self.renames_aside:
            old = relation + OLD_SUFFIX
            self.execute(self.statements.drop("table", old, if_exists=True))
            if kind == "table":
                self.execute(self.statements.rename(relation, old))
            elif kind == "view":
                self.execute(self.statements.drop("view", relation))
            self.execute(self.statements.rename(tmp, relation))
            self.execute(self.statements.drop("table", old, if_exists=True))
            return
        if kind is not None:
            self.execute(self.statements.drop(kind, relation))
        self.execute(self.statements.rename(tmp, relation))

    def replace_view(self, name: str, sql: str) -> None:
        """Create or replace a view: in one transaction where the engine has them (a table of
        that name is dropped); elsewhere CREATE OR REPLACE VIEW is one step, and a table of that
        name goes only once the view's SQL has been accepted (tried as `__ff_tmp` first)."""
        if not self.capabilities.transactions:
            if self.relation_kind(name) == "table":
                tmp = name + TEMP_SUFFIX
                self.execute(self.statements.create_view_as(tmp, sql, replace=True))
                self.execute(self.statements.drop("view", tmp))
                self.execute(self.statements.drop("table", name))
            self.execute(self.statements.create_view_as(name, sql, replace=True))
            return
        with self.transaction():
            if self.relation_kind(name) == "table":
                self.execute(self.statements.drop("table", name))
            self.execute(self.statements.create_view_as(name, sql, replace=True))

    def apply_incremental(self, node: PlanNode, config: IncrementalMaterialization, create: Callable[[str], int | None]) -> int:
        """Apply new rows to an existing table, in one transaction: append, or replace the rows
        whose unique_key comes again."""
        tmp = node.relation + TEMP_SUFFIX
        with self.transaction():
            self.execute(self.statements.drop("table", tmp, if_exists=True))
            create(tmp)
            new_columns = self.same_columns(node, tmp)
            rows = self.count_rows(tmp)
            if config.replaces_keyed_rows:
                self.execute(self.statements.delete_matching(node.relation, tmp, config.unique_key))
            self.execute(self.statements.insert_all(node.relation, tmp, new_columns))
            self.execute(self.statements.drop("table", tmp))
        return rows

    def incremental_steps(self, node: PlanNode, config: IncrementalMaterialization, new_rows: str, columns: list[str]) -> list[str]:
        """The statements that apply `new_rows` to the node's table, for engines that run them
        as one DML transaction: MERGE, DELETE then INSERT, or INSERT (append)."""
        target, keys = node.relation, config.unique_key
        match config.strategy:
            case "merge":
                return [self.statements.merge(target, new_rows, keys, columns)]
            case "delete+insert":
                return [self.statements.delete_matching(target, new_rows, keys), self.statements.insert_all(target, new_rows, columns)]
        return [self.statements.insert_all(target, new_rows, columns)]

    def same_columns(self, node: PlanNode, new_rows: str) -> list[str]:
        """The columns of `new_rows`, which must be those of the node's existing table."""
        new_columns, old_columns = self.columns(new_rows), self.columns(node.relation)
        if new_columns != old_columns:
            raise ModelBuildError(
                node.id, node.path, self.engine,
                f"the incremental query returns columns {new_columns}, the table has {old_columns}; rebuild it with --full-refresh",
            )
        return new_columns

    def apply_staged(self, node: PlanNode, create: Callable[[str], int | None], apply: Callable[[str, list[str]], None]) -> int:
        """An incremental model's new rows, staged in `<name>__ff_tmp` (one a killed run left is
        dropped first), checked against the table's columns and handed to `apply(stage,
        columns)`; the stage is dropped whatever happens. The number of new rows."""
        tmp = node.relation + TEMP_SUFFIX
        self.execute(self.statements.drop("table", tmp, if_exists=True))
        create(tmp)
        try:
            columns = self.same_columns(node, tmp)
            rows = self.count_rows(tmp)
            apply(tmp, columns)
        finally:
            self.drop_quietly(tmp)
        return rows

    def columns(self, name: Name) -> list[str]:
        return list(self.read_arrow(self.statements.no_rows(name)).column_names)

    def column_types(self, name: Name) -> list[tuple[str, str, int | None, int | None, int | None]]:
        """Each column of `name` with the type the catalog names (information_schema's
        `data_type`) and its character size, numeric precision and scale, as dbt's adapters read
        them for get_columns_in_relation."""
        return [(str(c), str(t), size, precision, scale) for c, t, size, precision, scale in self.fetch_rows(self.statements.column_types(name))]

    def create_if_missing(self, sql: str, exists: Callable[[], bool]) -> None:
        """Run an `if not exists` statement, safe when parallel tasks race to it: on some engines
        the loser of the race gets a duplicate-key error although the object now exists."""
        try:
            self.execute(sql)
        except Exception:
            if not exists():
                raise

    # -- Python models: inputs in the engine's frame type, the result written as it comes -----

    def input_frame(self, node: PlanNode) -> Any:
        """A model input as the engine's frame type: pandas (through Arrow) by default."""
        return self.read_node(node).to_pandas()

    def frame_columns(self, frame: Any) -> list[str]:
        return [str(c) for c in frame.columns]

    def model_rows(self, frame: Any, node: PlanNode) -> Any:
        """What a Python model returned, as rows `table_from_rows` writes: Arrow by default
        (engines with their own DataFrames take those first)."""
        import pyarrow as pa

        if isinstance(frame, pa.Table):
            return frame
        import pandas as pd

        if isinstance(frame, pd.DataFrame):
            return pa.Table.from_pandas(frame, preserve_index=False)
        frame_type = self.capabilities.frame
        wanted = f"a {frame_type} (or a pandas DataFrame or pyarrow Table)" if frame_type else "a pandas DataFrame (or a pyarrow Table)"
        raise ModelBuildError(node.id, node.path, self.engine, f"the model returned {type(frame).__name__}; return {wanted}")

    def table_from_rows(self, relation: str, rows: Any) -> int:
        """Create `relation` from `model_rows`' result; the number of rows written."""
        return self.table_from_arrow(relation, rows)

    def table_from_arrow(self, relation: str, data: pa.Table) -> int:
        self.create_table_from_arrow(relation, data)
        return data.num_rows

    def read_node(self, node: PlanNode, *, limit: int | None = None) -> pa.Table:
        """A node's rows (the first `limit`); an ephemeral node is read through its SQL."""
        return self.read_arrow(self.node_query(node, limit=limit))

    def node_query(self, node: PlanNode, *, limit: int | None = None) -> str:
        """SELECT * of a node's relation, or of an ephemeral node's SQL as a sub-query."""
        from sqlglot import exp

        dialect = self.profile.dialect
        if not node.builds_relation:
            source: exp.Expr = exp.maybe_parse(node_sql(node), dialect=dialect).subquery(exp.to_identifier(node.relation, quoted=True))
        else:
            source = relation(node.relation)
        query = exp.select("*").from_(source)
        if limit is not None:
            query = query.limit(limit)
        return query.sql(dialect=dialect)

    def python_rows(self, plan: Plan, node: PlanNode, root: Path, *, incremental: bool) -> Any:
        """Call a Python model on its inputs (as the engine's frames) and return its rows."""
        func = python_models.load_function(node, root)
        nodes = plan.node_map()
        frames = {nodes[d].relation: self.input_frame(nodes[d]) for d in node.depends_on}
        python_models.check_required_columns(node, {r: self.frame_columns(f) for r, f in frames.items()}, fold=self.catalog_name)
        try:
            with incremental_run(incremental):
                result = python_models.call_model(func, frames)
        except FlowForgeError:
            raise
        except (Exception, SystemExit) as exc:  # noqa: BLE001 - the user's function raised (or called sys.exit)
            raise python_models.user_code_error(node, self.engine, exc, root) from exc
        return self.model_rows(result, node)


@contextmanager
def throwaway_schema(profile: Profile, make: Callable[[Profile], Executor], setting: str) -> Iterator[Executor]:
    """An executor on a fresh schema (the profile key `setting` names it), dropped afterwards
    whatever happens: where unit tests run on engines with schemas."""
    import uuid

    name = f"ff_utest_{uuid.uuid4().hex[:12]}"
    executor = make(profile.with_engine_settings(**{setting: name}))
    try:
        yield executor
    finally:
        try:
            executor.execute(executor.statements.drop_schema(name))
        finally:
            executor.close()


def _engine_message(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"
