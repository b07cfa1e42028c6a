"""The BigQuery engine, compile-time half: its profile block (`project`, `dataset`, `location`,
`use_bigframes`, `keyfile`; `FF_BQ_*` overrides), GoogleSQL where sqlglot's translation of
DuckDB's SQL is not BigQuery's, and how dbt outputs and Airflow connections map onto it. The
executor, and how a build stays atomic there, is `runtime.executors.bigquery`."""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import field_validator
from sqlglot import exp

from flowforge_compiler.dsn import whole_template
from flowforge_compiler.engine_sdk import Capabilities, DbtColumnRules, EngineSpec
from flowforge_compiler.errors import ProfileError
from flowforge_compiler.rewrites import NotPortable, RegexpReplaceEveryMatch, Rewrite
from flowforge_compiler.yaml_files import Strict

_DATASET_NAME = re.compile(r"[A-Za-z0-9_]{1,1024}")
_PROJECT_ID = re.compile(r"[a-z][a-z0-9.:-]{0,127}")  # with the legacy `domain.com:project` form
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



# -- GoogleSQL where sqlglot's translation of DuckDB's SQL is not BigQuery's -------------------


class TimeToUnixToBigQuery(Rewrite):
    """DuckDB's `epoch(ts)` (seconds with their fraction): sqlglot writes TIME_TO_UNIX, which
    BigQuery does not have; UNIX_MICROS / 1e6 keeps the fraction."""

    source, target, node = "duckdb", "bigquery", exp.TimeToUnix

    def apply(self, node: exp.Expr) -> exp.Expr:
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

    def apply(self, node: exp.Expr) -> exp.Expr:
        parent = node.parent
        function = parent.this if isinstance(parent, exp.Window) else parent
        if isinstance(function, exp.IgnoreNulls | exp.RespectNulls):
            function = function.this
        if not isinstance(function, exp.AggFunc):
            return node  # a query's ORDER BY, or a ranking window: BigQuery writes NULLS LAST there
        keys: list[exp.Expr] = []
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


ENGINE = EngineSpec[BigQuerySettings](
    name="bigquery",
    dialect="bigquery",
    profile=BigQueryProfile,
    extra="bigquery",
    capabilities=Capabilities(transactions=False, replace="write_truncate", names_fold_case=False),  # table names keep their case
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
    executor="runtime.executors.bigquery:BigQueryExecutor",
    rewrites=(TimeToUnixToBigQuery(), RegexpReplaceToBigQuery(), NullsLastToBigQuery()),
    location=_location,
    target=lambda settings, unresolved: (settings.dataset, settings.project),
    airflow_connection=_airflow_connection,
    transient=_transient,
    asset_namespace=_asset_namespace,
    relation_name_problem=_relation_name_problem,
    dbt_types=("bigquery",),
    from_dbt=_from_dbt,
    dbt_column=DbtColumnRules(  # dbt-bigquery's BigQueryColumn
        type_labels={"TEXT": "STRING", "FLOAT": "FLOAT64", "INTEGER": "INT64"},
        string_types=frozenset({"string"}),
        integer_types=frozenset({"int64"}),
        float_types=frozenset({"float64"}),
        numeric_types=frozenset({"numeric"}),
        numeric_with_precision=False,
    ),
)
