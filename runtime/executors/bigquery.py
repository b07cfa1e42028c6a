"""The BigQuery engine (pandas path): profile, SDK entry (GoogleSQL) and executor.

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
import unicodedata
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import field_validator
from sqlglot import exp

from flowforge_compiler.dsn import whole_template
from flowforge_compiler.engine_sdk import Capabilities, EngineSpec
from flowforge_compiler.errors import ModelBuildError, ProfileError
from flowforge_compiler.plan import Plan, PlanNode, Relation
from flowforge_compiler.profiles import Profile
from flowforge_compiler.yaml_files import Strict
from flowforge_compiler.rewrites import NotPortable, RegexpReplaceEveryMatch, Rewrite
from runtime.executors.base import RelationKind, WithoutTransactions, sql_log, throwaway_schema
from runtime.statements import Name

if TYPE_CHECKING:
    import pyarrow as pa

log = logging.getLogger("flowforge")

_DATASET_NAME = re.compile(r"[A-Za-z0-9_]{1,1024}")
_PROJECT_ID = re.compile(r"[a-z][a-z0-9.:-]{0,127}")  # with the legacy `domain.com:project` form
_LABEL_VALUE = re.compile(r"[^a-z0-9_-]")
# Table names: letters, marks, numbers, connectors (_), dashes and spaces (BigQuery's rule).
_TABLE_CATEGORIES = ("L", "M", "N", "Pc", "Pd", "Zs")


class BigQuerySettings(Strict):
    project: str | None = None  # default: the credentials' project
    dataset: str
    location: str | None = None
    use_bigframes: bool = False
    keyfile: str | None = None  # a service-account key file; default: Application Default Credentials
    keyfile_json: str | None = None  # the key itself (from an Airflow connection's keyfile_dict)

    @field_validator("project")
    @classmethod
    def _project_id(cls, project: str | None) -> str | None:
        if project is not None and not _PROJECT_ID.fullmatch(project):
            raise ValueError(f"{project!r} is not a Google Cloud project id (lower-case letters, digits and -)")
        return project

    @field_validator("dataset")
    @classmethod
    def _dataset_name(cls, name: str) -> str:
        if not _DATASET_NAME.fullmatch(name):
            raise ValueError(f"{name!r} is not a BigQuery dataset name (letters, digits and underscores)")
        return name


class BigQueryProfile(Strict):
    engine: Literal["bigquery"]
    bigquery: BigQuerySettings


def _relation_name_problem(name: str) -> str | None:
    if len(name.encode()) > 1024:
        return "BigQuery table names are at most 1024 bytes"
    bad = sorted({c for c in name if not unicodedata.category(c).startswith(_TABLE_CATEGORIES)})
    if bad:
        return f"BigQuery table names take letters, digits, underscores, dashes and spaces, not {' '.join(map(repr, bad))}"
    return None


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


class BigQueryExecutor(WithoutTransactions):
    engine = "bigquery"

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

    def build(self, plan: Plan, node: PlanNode, root: Path, *, full_refresh: bool = False) -> Any:
        self._node.id = node.id
        try:
            return super().build(plan, node, root, full_refresh=full_refresh)
        finally:
            self._node.id = None

    def create_table_as(self, name: Name, sql: str) -> int | None:
        """One query job writing its destination with `WRITE_TRUNCATE`; the rows it wrote."""
        sql_log.debug("%s\n-- into %s (WRITE_TRUNCATE)", sql, name)
        rows = self._query(sql, destination=self._table(name), write_disposition="WRITE_TRUNCATE", create_disposition="CREATE_IF_NEEDED")
        return rows.total_rows

    def replace_table(self, relation: str, create: Callable[[str], int | None]) -> int:
        """The job that writes the table replaces it atomically: no temporary table, no swap
        (a view of that name goes first; it holds no rows)."""
        if self.relation_kind(relation) == "view":
            self.drop_relation(relation)
        written = create(relation)
        return written if written is not None else self.count_rows(relation)

    def apply_incremental(self, node: PlanNode, create: Callable[[str], int | None]) -> int:
        def apply(stage: str, columns: list[str]) -> None:
            self.execute(self.statements.transaction_script([*self.incremental_steps(node, stage, columns), self.meta_row(node)]))
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
        if node.materialization == "ephemeral":
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


# -- GoogleSQL where sqlglot's translation of DuckDB's SQL is not BigQuery's -------------------


class TimeToUnixToBigQuery(Rewrite):
    """DuckDB's `epoch(ts)` (seconds with their fraction): sqlglot writes TIME_TO_UNIX, which
    BigQuery does not have; UNIX_MICROS / 1e6 keeps the fraction."""

    source, target, node = "duckdb", "bigquery", exp.TimeToUnix

    def apply(self, node: exp.Expression) -> exp.Expression:
        micros = exp.UnixMicros(this=exp.cast(node.this, exp.DataType.build("TIMESTAMP", dialect="bigquery")))
        return exp.paren(exp.Div(this=micros, expression=exp.Literal.number(1_000_000)), copy=False)


class RegexpReplaceToBigQuery(RegexpReplaceEveryMatch):
    target = "bigquery"


def _frame_kind(window: exp.Window) -> str:
    spec = window.args.get("spec")
    return spec.text("kind").upper() if spec is not None else ""


class NullsLastToBigQuery(Rewrite):
    """DuckDB sorts NULLs last in ascending order and first in descending; BigQuery the other
    way round, and it takes no NULLS LAST inside an aggregate or a window over one. There an
    extra sort key, `x IS NULL`, puts them where DuckDB does (a RANGE frame takes one key only)."""

    source, target, node = "duckdb", "bigquery", exp.Order

    def apply(self, node: exp.Expression) -> exp.Expression:
        parent = node.parent
        function = parent.this if isinstance(parent, exp.Window) else parent
        if isinstance(function, exp.IgnoreNulls | exp.RespectNulls):
            function = function.this
        if not isinstance(function, exp.AggFunc):
            return node  # a query's ORDER BY, or a ranking window: BigQuery writes NULLS LAST there
        keys: list[exp.Expression] = []
        for ordered in node.expressions:
            desc = bool(ordered.args.get("desc"))
            if desc == bool(ordered.args.get("nulls_first")):  # the opposite of BigQuery's default
                if isinstance(parent, exp.Window) and _frame_kind(parent) == "RANGE":
                    raise NotPortable(
                        "a RANGE window whose order puts NULLs where BigQuery cannot",
                        self.target,
                        "write NULLS FIRST (ascending) or NULLS LAST (descending) if the key is never null, or use a ROWS frame",
                    )
                keys.append(exp.Ordered(this=exp.Is(this=ordered.this.copy(), expression=exp.Null()), desc=desc, nulls_first=not desc))
                ordered.set("nulls_first", not desc)
            keys.append(ordered)
        node.set("expressions", keys)
        return node


def _location(settings: BigQuerySettings, root: Path, unresolved: Mapping[str, str]) -> dict[str, str]:
    return {"project": settings.project or "", "dataset": settings.dataset, "location": settings.location or ""}


def _airflow_connection(settings: BigQuerySettings, connection: Any, conn_id: str) -> dict[str, Any]:
    """Airflow's google_cloud_platform connection: its project and key (a file, or the key
    itself), with or without the old `extra__google_cloud_platform__` prefix; without a key,
    the worker's Application Default Credentials."""
    extra = connection.extra_dejson or {}

    def get(key: str) -> Any:
        return extra.get(key) or extra.get(f"extra__google_cloud_platform__{key}")

    updates: dict[str, Any] = {}
    if get("project"):
        updates["project"] = get("project")
    if get("key_path"):
        updates["keyfile"] = get("key_path")
    if get("keyfile_dict"):
        key = get("keyfile_dict")
        updates["keyfile_json"] = key if isinstance(key, str) else json.dumps(key)
    for key in ("dataset", "location"):
        if extra.get(key):
            updates[key] = extra[key]
    if not updates.get("project") and not settings.project and not updates.get("keyfile_json") and not updates.get("keyfile"):
        raise ProfileError(
            f"Airflow connection {conn_id!r} names no Google Cloud project or key",
            hint="set its extra 'project' (and 'key_path' or 'keyfile_dict' unless the workers have Application Default Credentials)",
        )
    return updates


def _asset_namespace(settings: BigQuerySettings, root: Path, unresolved: Mapping[str, str]) -> str | None:
    """`bigquery://<project>/<dataset>`, the form of Airflow's BigQuery assets."""
    if not settings.project or "bigquery.project" in unresolved or "bigquery.dataset" in unresolved:
        return None
    return f"bigquery://{settings.project}/{settings.dataset}"


_TRANSIENT_REASONS = {"backendError", "rateLimitExceeded", "internalError", "jobBackendError", "jobRateLimitExceeded"}


def _transient(error: BaseException) -> bool:
    """Server-side and quota errors pass if tried again; invalid SQL and missing tables do not."""
    import sys

    exceptions = sys.modules.get("google.api_core.exceptions")
    if exceptions is None or not isinstance(error, exceptions.GoogleAPICallError):
        return False
    if isinstance(error, exceptions.ServerError | exceptions.TooManyRequests):
        return True
    return any(e.get("reason") in _TRANSIENT_REASONS for e in getattr(error, "errors", None) or [])


def _key_text(key: Any) -> str:
    """dbt's `keyfile_json` mapping as JSON text; a value given by a template (a private key from
    env_var()) stays a template, escaped for JSON where it is rendered (keys hold newlines)."""
    templates: list[str] = []

    def hide(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: hide(v) for k, v in value.items()}
        if isinstance(value, str) and "{{" in value:
            templates.append(whole_template(value, "keyfile_json"))
            return f"fftemplate{len(templates) - 1}x"
        return value

    text = json.dumps(hide(key))
    for number, expression in enumerate(templates):
        text = text.replace(f"fftemplate{number}x", "{{ (" + expression + ") | json_text }}")
    return text


def _dbt_split_part(string_text: Any, delimiter_text: Any, part_number: Any) -> str:
    """dbt's split_part, which BigQuery has no function for (sqlglot writes SPLIT_PART):
    SPLIT(...)[SAFE_OFFSET(n - 1)], as dbt-bigquery writes it, for a part counted from the start."""
    part = int(str(part_number))
    if part < 1:
        raise ValueError(f"dbt.split_part(..., {part}): FlowForge writes it for BigQuery only for parts counted from 1")
    text, delimiter = (exp.maybe_parse(str(v), dialect="bigquery") for v in (string_text, delimiter_text))
    return exp.Bracket(this=exp.Split(this=text, expression=delimiter), expressions=[exp.func("SAFE_OFFSET", exp.Literal.number(part - 1))]).sql("bigquery")


def _from_dbt(output: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """dbt-bigquery's output: project (or database), dataset (or schema), location, and the
    key of `method: service-account` (keyfile) or `service-account-json` (keyfile_json);
    `method: oauth` is Application Default Credentials, FlowForge's default."""
    out = dict(output)
    settings: dict[str, Any] = {}
    for key, aliases in (("project", ("project", "database")), ("dataset", ("dataset", "schema")), ("location", ("location",))):
        found = [out.pop(alias) for alias in aliases if alias in out]
        if found:
            settings[key] = found[0]
    if "keyfile" in out:
        settings["keyfile"] = out.pop("keyfile")
    if "keyfile_json" in out:
        key = out.pop("keyfile_json")
        settings["keyfile_json"] = key if isinstance(key, str) else _key_text(key)
    out.pop("method", None)
    out.pop("threads", None)
    return settings, sorted(out)


ENGINE = EngineSpec(
    name="bigquery",
    dialect="bigquery",
    profile=BigQueryProfile,
    extra="bigquery",
    capabilities=Capabilities(transactions=False, merge=True),
    overrides={
        "FF_BQ_PROJECT": "project",
        "FF_BQ_DATASET": "dataset",
        "FF_BQ_LOCATION": "location",
        "FF_BQ_USE_BIGFRAMES": "use_bigframes",
        "FF_BQ_KEYFILE": "keyfile",
    },
    path_keys=("keyfile",),
    block_hint="set FF_BQ_DATASET, or add `bigquery: {dataset: ...}`",
    requires=("google.cloud.bigquery",),
    executor=lambda: BigQueryExecutor,
    rewrites=(TimeToUnixToBigQuery(), RegexpReplaceToBigQuery(), NullsLastToBigQuery()),
    location=_location,
    target=lambda settings, unresolved: (settings.dataset, settings.project),
    airflow_connection=_airflow_connection,
    isolated=lambda profile: throwaway_schema(profile, BigQueryExecutor, "dataset"),  # a throw-away dataset
    transient=_transient,
    asset_namespace=_asset_namespace,
    relation_name_problem=_relation_name_problem,
    dbt_types=("bigquery",),
    from_dbt=_from_dbt,
    dbt_macros={"split_part": _dbt_split_part},
)
