"""The BigQuery engine's executor (pandas path); its compile-time half is
`flowforge_compiler.engines.bigquery`.

Profile keys as the spec names them (`project`, `dataset`, `location`, `use_bigframes`), plus
`keyfile` (a service-account JSON file; default: Application Default Credentials, as the
`google-cloud-bigquery` client finds them). `FF_BQ_*` variables override them.

Every statement is a query job in the profile's dataset (its default dataset, so a node's
name needs no qualification), labelled with the FlowForge project and node, for billing
reports. BigQuery has no transaction around DDL, but a job that writes a destination table is
atomic: a table is replaced by one query job (or, for Python models and seeds, one load job)
with `WRITE_TRUNCATE`, so a failed build leaves the previous table and its rows as they were,
and no temporary table or swap is needed. Python models receive pandas DataFrames, or with
`use_bigframes` BigQuery DataFrames, whose `to_gbq` writes the table the same way. An incremental model's new rows go to a temporary
table first; `MERGE` (strategy `merge`) or DELETE and INSERT (`delete+insert`), or INSERT
(`append`), then runs in one multi-statement transaction together with the node's `_ff_meta`
row, so a killed run can never apply the same rows twice.
"""

from __future__ import annotations

import importlib.util
import io
import json
import logging
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from flowforge_compiler.engines.bigquery import BigQuerySettings
from flowforge_compiler.errors import ModelBuildError, ProfileError
from flowforge_compiler.materializations import IncrementalMaterialization
from flowforge_compiler.plan import Plan, PlanNode, Relation
from flowforge_compiler.profiles import Profile
from flowforge_compiler.sql_names import Name
from runtime.executors.base import Executor, RelationKind, sql_log

if TYPE_CHECKING:
    import pyarrow as pa

log = logging.getLogger("flowforge")

_LABEL_VALUE = re.compile(r"[^a-z0-9_-]")


def _label(value: str) -> str:
    """A label value as BigQuery accepts it: lower-case letters, digits, _ and -, 63 at most."""
    return _LABEL_VALUE.sub("_", value.lower())[:63]


def make_bigframes_session(settings: BigQuerySettings, client: Any) -> Any:
    """A BigQuery DataFrames session on the client's project, location and credentials."""
    import bigframes

    options = bigframes.BigQueryOptions(project=client.project, location=settings.location, credentials=client._credentials)
    return bigframes.Session(context=options)


def make_client(settings: BigQuerySettings, profile: str) -> Any:
    """The BigQuery client the profile describes; credential problems are profile errors."""
    from google.auth.exceptions import DefaultCredentialsError
    from google.cloud import bigquery

    credentials = None
    try:
        if settings.keyfile_json or settings.keyfile:
            from google.oauth2 import service_account

            if settings.keyfile_json:
                credentials = service_account.Credentials.from_service_account_info(json.loads(settings.keyfile_json))
            else:
                credentials = service_account.Credentials.from_service_account_file(settings.keyfile)
        return bigquery.Client(project=settings.project, credentials=credentials, location=settings.location)
    except (DefaultCredentialsError, OSError, ValueError) as exc:
        raise ProfileError(
            f"profile {profile!r}: no usable Google credentials for BigQuery: {exc}",
            hint="set GOOGLE_APPLICATION_CREDENTIALS or bigquery.keyfile, or run `gcloud auth application-default login`; "
            "set bigquery.project when the credentials do not name one",
        ) from exc


class BigQueryExecutor(Executor):
    engine = "bigquery"
    schema_setting = "dataset"  # unit tests: a throw-away dataset

    def __init__(self, profile: Profile, *, lock_timeout: float = 60.0):
        super().__init__(profile, lock_timeout=lock_timeout)
        from google.cloud import bigquery

        settings: BigQuerySettings = profile.engine_settings
        if settings.use_bigframes and importlib.util.find_spec("bigframes") is None:
            raise ProfileError(
                f"profile {profile.name!r}: bigquery.use_bigframes needs BigQuery DataFrames",
                hint="pip install 'flowforge[bigframes]' (in an environment of its own: it wants rich<14), or set use_bigframes: false",
            )
        self._bigframes: Any = None
        self.client = make_client(settings, profile.name)
        self.dataset = bigquery.DatasetReference(self.client.project, settings.dataset)
        self._project_label: str | None = None
        self._node = threading.local()  # .id: the node being built, for job labels
        dataset = bigquery.Dataset(self.dataset)
        dataset.location = settings.location
        self.client.create_dataset(dataset, exists_ok=True)

    # -- jobs --------------------------------------------------------------------------------

    def labels(self) -> dict[str, str]:
        """Every job says which FlowForge project and node it ran for."""
        labels = {"flowforge": "true"}
        if self._project_label:
            labels["flowforge_project"] = self._project_label
        node = getattr(self._node, "id", None)
        if node:
            labels["flowforge_node"] = _label(node)
        return labels

    def _query(self, sql: str, **config: Any) -> Any:
        """Run one query job in the profile's dataset and wait for it; its rows."""
        from google.cloud import bigquery

        job_config = bigquery.QueryJobConfig(default_dataset=self.dataset, labels=self.labels(), **config)
        return self.client.query(sql, job_config=job_config).result()

    def _table(self, name: Name) -> Any:
        from google.cloud import bigquery

        if isinstance(name, Relation):
            dataset = bigquery.DatasetReference(name.catalog or self.client.project, name.schema_ or self.dataset.dataset_id)
            return dataset.table(name.name)
        return self.dataset.table(name)

    def _load_config(self, **config: Any) -> Any:
        from google.cloud import bigquery

        return bigquery.LoadJobConfig(labels=self.labels(), write_disposition="WRITE_TRUNCATE", **config)

    # -- primitives --------------------------------------------------------------------------

    def _execute(self, sql: str) -> None:
        self._query(sql)

    def read_arrow(self, sql: str) -> pa.Table:
        sql_log.debug("%s", sql)
        return self._query(sql).to_arrow(create_bqstorage_client=False)

    def fetch_rows(self, sql: str) -> list[tuple[Any, ...]]:
        sql_log.debug("%s", sql)
        return [tuple(row.values()) for row in self._query(sql)]

    def create_table_from_arrow(self, relation: Name, data: pa.Table) -> None:
        """One Parquet load job (`WRITE_TRUNCATE`: the table is replaced as one step). Seeds
        and Python models' pandas frames (through pyarrow) both load this way: the client's
        own `load_table_from_dataframe` is deprecated in favour of pandas-gbq."""
        import pyarrow.parquet as pq

        buffer = io.BytesIO()
        pq.write_table(data, buffer)
        size = buffer.tell()
        buffer.seek(0)
        config = self._load_config(source_format="PARQUET")
        self.client.load_table_from_file(buffer, self._table(relation), size=size, job_config=config).result()

    def relation_kind(self, relation: Name) -> RelationKind | None:
        from google.api_core.exceptions import NotFound

        try:
            table = self.client.get_table(self._table(relation))
        except NotFound:
            return None
        return "view" if table.table_type in ("VIEW", "MATERIALIZED_VIEW") else "table"

    def existing_relations(self) -> set[str]:
        return {table.table_id for table in self.client.list_tables(self.dataset)}

    def columns(self, name: Name) -> list[str]:
        return [field.name for field in self.client.get_table(self._table(name)).schema]

    def close(self) -> None:
        self.client.close()

    # -- the build lifecycle -----------------------------------------------------------------

    def prepare_run(self, plan: Plan) -> None:
        self._project_label = _label(plan.project.name)
        super().prepare_run(plan)

    @contextmanager
    def building(self, node: PlanNode) -> Iterator[None]:
        """Every job of the node's build is labelled with it."""
        self._node.id = node.id
        try:
            with super().building(node):
                yield
        finally:
            self._node.id = None

    def create_table_as(self, name: Name, sql: str) -> int | None:
        """One query job writing its destination with `WRITE_TRUNCATE`; the rows it wrote."""
        sql_log.debug("%s\n-- into %s (WRITE_TRUNCATE)", sql, name)
        rows = self._query(sql, destination=self._table(name), write_disposition="WRITE_TRUNCATE", create_disposition="CREATE_IF_NEEDED")
        return rows.total_rows

    def apply_incremental(self, node: PlanNode, config: IncrementalMaterialization, create: Callable[[str], int | None]) -> int:
        def apply(stage: str, columns: list[str]) -> None:
            self.execute(self.statements.transaction_script([*self.incremental_steps(node, config, stage, columns), self.meta.row(node)]))
            self._building.node = None  # published by the script

        return self.apply_staged(node, create, apply)

    # -- Python models: pandas, or BigQuery DataFrames (use_bigframes) ---------------------------

    @property
    def use_bigframes(self) -> bool:
        return bool(self.profile.engine_settings.use_bigframes)

    def bigframes(self) -> Any:
        """The BigQuery DataFrames session, opened when the first Python model runs."""
        if self._bigframes is None:
            self._bigframes = make_bigframes_session(self.profile.engine_settings, self.client)
        return self._bigframes

    def table_id(self, relation: str) -> str:
        """`project.dataset.table`, as bigframes names a table."""
        table = self._table(relation)
        return f"{table.project}.{table.dataset_id}.{table.table_id}"

    def input_frame(self, node: PlanNode) -> Any:
        if not self.use_bigframes:
            return super().input_frame(node)
        if not node.builds_relation:
            raise ModelBuildError(
                node.id, node.path, self.engine,
                "a BigQuery DataFrames model reads tables and views, not ephemeral models (their SQL names tables in the profile's dataset without it); make it a view",
            )
        return self.bigframes().read_gbq(self.table_id(node.relation))

    def model_rows(self, frame: Any, node: PlanNode) -> Any:
        if self.use_bigframes and _is_bigframes(frame):
            return frame
        return super().model_rows(frame, node)

    def table_from_rows(self, relation: str, rows: Any) -> int:
        if not _is_bigframes(rows):
            return super().table_from_rows(relation, rows)
        self.write_bigframes(relation, rows)
        return self.count_rows(relation)

    def write_bigframes(self, relation: str, frame: Any) -> None:
        """`to_gbq` with `if_exists="replace"`: one query job writing the table with
        WRITE_TRUNCATE (atomic, as for SQL models), labelled like FlowForge's own jobs."""
        frame.to_gbq(self.table_id(relation), if_exists="replace", index=False, labels=self.labels())


def _is_bigframes(frame: Any) -> bool:
    import sys

    module = sys.modules.get("bigframes.dataframe")
    return module is not None and isinstance(frame, module.DataFrame)
