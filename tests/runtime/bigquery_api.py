"""A stand-in for BigQuery's REST API, for offline tests of what FlowForge sends to BigQuery.

BigQuery cannot be reached from the test machines, so the real `google-cloud-bigquery` client
is handed this object as its HTTP session. It records every job the client submits (SQL,
destination, write disposition, labels, default dataset) for tests to assert on, and answers
the way the API documents, so the client's own request and response handling runs unchanged.
To give the executor's reads (`_ff_meta`, columns, counts, checks) an answer, it runs each
job's SQL on an in-memory DuckDB, translated from GoogleSQL by sqlglot, one DuckDB schema per
dataset. Those rows are DuckDB's, not BigQuery's: tests that use it prove what FlowForge sends
and how it handles the answers, not what BigQuery would compute.
"""

from __future__ import annotations

import io
import json
import threading
import uuid
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import requests
import sqlglot
from sqlglot import exp

API = "/bigquery/v2/projects/"
UPLOAD = "/upload/bigquery/v2/projects/"


@dataclass
class Job:
    """One job as the client submitted it."""

    job_id: str
    kind: str  # query | load
    configuration: dict[str, Any]
    sql: str | None = None
    destination: str | None = None  # dataset.table
    write_disposition: str | None = None
    labels: dict[str, str] = field(default_factory=dict)
    default_dataset: str | None = None
    result: pa.Table | None = None  # a query's rows (None: a statement)
    affected: int | None = None


class BigQueryError(Exception):
    def __init__(self, status: int, reason: str, message: str):
        super().__init__(message)
        self.status, self.reason = status, reason


class RecordedBigQuery:
    """Handed to the client as its HTTP session (`_http`); `jobs` is what it submitted, in order."""

    is_mtls = False  # what the client asks of an authorized session, and closes

    def __init__(self, project: str = "ff-test-project"):
        self.project = project
        self.jobs: list[Job] = []
        self.requests: list[tuple[str, str]] = []  # (method, path)
        self.fail_next: dict[str, str] = {}  # SQL fragment -> error message, for failure tests
        self._by_id: dict[str, Job] = {}
        self._db = duckdb.connect()
        self._lock = threading.RLock()
        self._auth_request = SimpleNamespace(session=SimpleNamespace(close=lambda: None))
        self.closed = 0

    def close(self) -> None:
        self.closed += 1

    def client(self, location: str | None = None) -> Any:
        """The real client, talking to this object instead of the network."""
        from google.auth.credentials import AnonymousCredentials
        from google.cloud import bigquery

        return bigquery.Client(project=self.project, credentials=AnonymousCredentials(), location=location, _http=self)

    # -- what tests read --------------------------------------------------------------------

    def queries(self) -> list[Job]:
        return [job for job in self.jobs if job.kind == "query"]

    def loads(self) -> list[Job]:
        return [job for job in self.jobs if job.kind == "load"]

    def rows(self, dataset: str, table: str) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._db.execute(f'select * from "{dataset}"."{table}"').fetchall()

    def arrow(self, dataset: str, table: str) -> pa.Table:
        with self._lock:
            return self._db.sql(f'select * from "{dataset}"."{table}"').to_arrow_table()

    def put(self, dataset: str, table: str, data: pa.Table) -> None:
        """Write a table as a job with WRITE_TRUNCATE would (for stand-ins of other clients)."""
        with self._lock:
            self._write(f"{dataset}.{table}", data, "WRITE_TRUNCATE")

    def tables(self, dataset: str) -> dict[str, str]:
        """{name: 'TABLE' | 'VIEW'} of a dataset."""
        with self._lock:
            found = self._db.execute(
                "select table_name, table_type from information_schema.tables where table_schema = ?", [dataset]
            ).fetchall()
        return {name: "VIEW" if kind == "VIEW" else "TABLE" for name, kind in found}

    def datasets(self) -> set[str]:
        with self._lock:
            rows = self._db.execute("select schema_name from information_schema.schemata where catalog_name = current_database()").fetchall()
        return {name for (name,) in rows} - {"main", "information_schema", "pg_catalog"}

    # -- the HTTP session the client calls ------------------------------------------------------

    def request(self, method: str, url: str, data: Any = None, headers: dict[str, str] | None = None, **_: Any) -> requests.Response:
        parts = urlsplit(url)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        self.requests.append((method, parts.path))
        try:
            with self._lock:
                status, body = self._route(method, parts.path, query, data, headers or {})
        except BigQueryError as error:
            status = error.status
            body = {"error": {"code": error.status, "message": str(error), "errors": [{"reason": error.reason, "message": str(error)}]}}
        response = requests.Response()
        response.status_code = status
        response.headers["content-type"] = "application/json; charset=UTF-8"
        response._content = json.dumps(body).encode()
        response.url = url
        response.request = requests.Request(method, url).prepare()
        return response

    def _route(self, method: str, path: str, query: dict[str, str], data: Any, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
        if path.startswith(UPLOAD):
            project, rest = _split(path[len(UPLOAD):])
            if method == "POST" and rest == ["jobs"] and query.get("uploadType") == "multipart":
                metadata, payload = _multipart(data, headers)
                return 200, self._insert_job(metadata, payload)
            raise BigQueryError(400, "invalid", f"upload not handled here: {method} {path}?{query}")
        if not path.startswith(API):
            raise BigQueryError(404, "notFound", f"not an API path: {path}")
        project, rest = _split(path[len(API):])
        match method, rest:
            case "POST", ["jobs"]:
                return 200, self._insert_job(_json(data), None)
            case "GET", ["jobs", job_id]:
                return 200, self._job_resource(self._job(job_id))
            case "GET", ["queries", job_id]:
                return 200, self._query_results(self._job(job_id), query)
            case "POST", ["datasets"]:
                return 200, self._create_dataset(_json(data))
            case "GET", ["datasets", dataset]:
                if dataset not in self.datasets():
                    raise BigQueryError(404, "notFound", f"Not found: Dataset {self.project}:{dataset}")
                return 200, {"datasetReference": {"projectId": self.project, "datasetId": dataset}}
            case "DELETE", ["datasets", dataset]:
                self._db.execute(f'drop schema if exists "{dataset}" cascade')
                return 204, {}
            case "GET", ["datasets", dataset, "tables"]:
                tables = [self._table_ref(dataset, name, kind) for name, kind in self.tables(dataset).items()]
                return 200, {"tables": tables, "totalItems": len(tables)}
            case "GET", ["datasets", dataset, "tables", table]:
                return 200, self._table_resource(dataset, table)
            case "DELETE", ["datasets", dataset, "tables", table]:
                kind = self.tables(dataset).get(table)
                if kind is None:
                    raise BigQueryError(404, "notFound", f"Not found: Table {self.project}:{dataset}.{table}")
                self._db.execute(f'drop {"view" if kind == "VIEW" else "table"} "{dataset}"."{table}"')
                return 204, {}
        raise BigQueryError(400, "invalid", f"not handled here: {method} {path}")

    # -- jobs -------------------------------------------------------------------------------

    def _insert_job(self, resource: dict[str, Any], payload: bytes | None) -> dict[str, Any]:
        configuration = resource["configuration"]
        job_id = resource.get("jobReference", {}).get("jobId") or uuid.uuid4().hex
        if "query" in configuration:
            config = configuration["query"]
            default = config.get("defaultDataset", {}).get("datasetId")
            job = Job(
                job_id, "query", configuration, sql=config["query"], destination=_table_name(config.get("destinationTable")),
                write_disposition=config.get("writeDisposition"), labels=configuration.get("labels", {}), default_dataset=default,
            )
            self._record(job)
            self._run_query(job)
        elif "load" in configuration:
            config = configuration["load"]
            job = Job(
                job_id, "load", configuration, destination=_table_name(config["destinationTable"]),
                write_disposition=config.get("writeDisposition", "WRITE_APPEND"), labels=configuration.get("labels", {}),
            )
            self._record(job)
            if config.get("sourceFormat") != "PARQUET" or payload is None:
                raise BigQueryError(400, "invalid", f"only Parquet uploads are handled here, got {config.get('sourceFormat')}")
            self._write(job.destination, pq.read_table(io.BytesIO(payload)), job.write_disposition)
        else:
            raise BigQueryError(400, "invalid", f"job type not handled here: {sorted(configuration)}")
        return self._job_resource(job)

    def _record(self, job: Job) -> None:
        self.jobs.append(job)
        self._by_id[job.job_id] = job

    def _job(self, job_id: str) -> Job:
        if job_id not in self._by_id:
            raise BigQueryError(404, "notFound", f"Not found: Job {self.project}:{job_id}")
        return self._by_id[job_id]

    def _run_query(self, job: Job) -> None:
        assert job.sql is not None
        for fragment, message in list(self.fail_next.items()):
            if fragment in job.sql:
                del self.fail_next[fragment]
                raise BigQueryError(400, "invalidQuery", message)
        statements = [s for s in sqlglot.parse(job.sql, read="bigquery") if s is not None]
        self._db.execute("begin")
        try:
            for statement in statements:
                if isinstance(statement, exp.Transaction | exp.Commit):
                    continue  # the whole script is one DuckDB transaction already
                statement = self._local(statement, job.default_dataset)
                if job.destination and isinstance(statement, exp.Query):
                    self._write(job.destination, self._db.sql(statement.sql(dialect="duckdb")).to_arrow_table(), job.write_disposition)
                    job.result = self._db.sql(f"select * from {_duck_name(job.destination)}").to_arrow_table()
                elif isinstance(statement, exp.Query):
                    job.result = self._db.sql(statement.sql(dialect="duckdb")).to_arrow_table()
                else:
                    cursor = self._db.execute(statement.sql(dialect="duckdb"))
                    if isinstance(statement, exp.Insert | exp.Delete | exp.Update | exp.Merge):
                        job.affected = (job.affected or 0) + int(cursor.fetchone()[0])
        except duckdb.Error as error:
            self._db.execute("rollback")
            status, reason = (404, "notFound") if isinstance(error, duckdb.CatalogException) else (400, "invalidQuery")
            raise BigQueryError(status, reason, f"{type(error).__name__}: {error}") from error
        self._db.execute("commit")

    def _local(self, statement: exp.Expression, default_dataset: str | None) -> exp.Expression:
        """Names as DuckDB holds them: `project.dataset.table` and `dataset.table` as
        schema.table, a bare name in the job's default dataset."""
        ctes = {cte.alias for cte in statement.find_all(exp.CTE)}
        for table in statement.find_all(exp.Table):
            if table.catalog == self.project:
                table.set("catalog", None)
            if not table.db and table.name not in ctes and default_dataset:
                table.set("db", exp.to_identifier(default_dataset, quoted=True))
        return statement

    def _write(self, destination: str | None, data: pa.Table, disposition: str | None) -> None:
        assert destination is not None
        dataset, table = destination.split(".", 1)
        if dataset not in self.datasets():
            raise BigQueryError(404, "notFound", f"Not found: Dataset {self.project}:{dataset}")
        kind = self.tables(dataset).get(table)
        if kind == "VIEW":
            raise BigQueryError(400, "invalid", f"Cannot write to view {destination}")
        name = _duck_name(destination)
        self._db.register("ff_fake_rows", data)
        try:
            if kind is None or disposition == "WRITE_TRUNCATE":
                self._db.execute(f"create or replace table {name} as select * from ff_fake_rows")
            elif disposition == "WRITE_APPEND":
                self._db.execute(f"insert into {name} select * from ff_fake_rows")
            else:
                raise BigQueryError(409, "duplicate", f"Already Exists: Table {self.project}:{destination}")
        finally:
            self._db.unregister("ff_fake_rows")

    def _job_resource(self, job: Job) -> dict[str, Any]:
        statistics: dict[str, Any] = {"creationTime": "1700000000000", "startTime": "1700000000000", "endTime": "1700000000001"}
        if job.kind == "query":
            statistics["query"] = {"statementType": "SELECT" if job.result is not None else "SCRIPT"}
            if job.affected is not None:
                statistics["query"]["numDmlAffectedRows"] = str(job.affected)
        return {
            "kind": "bigquery#job",
            "id": f"{self.project}:US.{job.job_id}",
            "jobReference": {"projectId": self.project, "jobId": job.job_id, "location": "US"},
            "configuration": job.configuration,
            "status": {"state": "DONE"},
            "statistics": statistics,
        }

    def _query_results(self, job: Job, query: dict[str, str]) -> dict[str, Any]:
        body: dict[str, Any] = {
            "kind": "bigquery#getQueryResultsResponse",
            "jobReference": {"projectId": self.project, "jobId": job.job_id, "location": "US"},
            "jobComplete": True,
        }
        if job.affected is not None:
            body["numDmlAffectedRows"] = str(job.affected)
        if job.result is None:
            return body
        body["schema"] = {"fields": [_field(f) for f in job.result.schema]}
        body["totalRows"] = str(job.result.num_rows)
        limit = int(query.get("maxResults", job.result.num_rows))
        start = int(query.get("pageToken") or query.get("startIndex") or 0)
        if limit == 0:
            return body
        page = job.result.slice(start, limit)
        body["rows"] = [{"f": [{"v": _value(v)} for v in row.values()]} for row in page.to_pylist()]
        if start + page.num_rows < job.result.num_rows:
            body["pageToken"] = str(start + page.num_rows)
        return body

    # -- datasets and tables ------------------------------------------------------------------

    def _create_dataset(self, resource: dict[str, Any]) -> dict[str, Any]:
        dataset = resource["datasetReference"]["datasetId"]
        if dataset in self.datasets():
            raise BigQueryError(409, "duplicate", f"Already Exists: Dataset {self.project}:{dataset}")
        self._db.execute(f'create schema "{dataset}"')
        return resource

    def _table_ref(self, dataset: str, table: str, kind: str) -> dict[str, Any]:
        return {"tableReference": {"projectId": self.project, "datasetId": dataset, "tableId": table}, "type": kind}

    def _table_resource(self, dataset: str, table: str) -> dict[str, Any]:
        kind = self.tables(dataset).get(table)
        if kind is None:
            raise BigQueryError(404, "notFound", f"Not found: Table {self.project}:{dataset}.{table}")
        data = self._db.sql(f'select * from "{dataset}"."{table}" limit 0').to_arrow_table()
        resource = self._table_ref(dataset, table, kind) | {"schema": {"fields": [_field(f) for f in data.schema]}}
        if kind == "TABLE":
            resource["numRows"] = str(self._db.execute(f'select count(*) from "{dataset}"."{table}"').fetchone()[0])
        return resource


def _split(path: str) -> tuple[str, list[str]]:
    project, _, rest = path.partition("/")
    return unquote(project), [unquote(p) for p in rest.split("/")] if rest else []


def _json(data: Any) -> dict[str, Any]:
    return json.loads(data.decode() if isinstance(data, bytes) else data)


def _multipart(data: bytes, headers: dict[str, str]) -> tuple[dict[str, Any], bytes]:
    content_type = next(v for k, v in headers.items() if str(k).lower() == "content-type")
    head = content_type if isinstance(content_type, bytes) else content_type.encode()
    message = BytesParser(policy=HTTP).parsebytes(b"content-type: " + head + b"\r\n\r\n" + data)
    metadata, payload = [part.get_payload(decode=True) for part in message.iter_parts()]
    return json.loads(metadata), payload


def _table_name(reference: dict[str, str] | None) -> str | None:
    return None if reference is None else f"{reference['datasetId']}.{reference['tableId']}"


def _duck_name(name: str) -> str:
    dataset, table = name.split(".", 1)
    return exp.table_(table, db=dataset, quoted=True).sql(dialect="duckdb")


_TYPES = [
    (pa.types.is_boolean, "BOOLEAN"),
    (pa.types.is_integer, "INTEGER"),
    (pa.types.is_floating, "FLOAT"),
    (pa.types.is_decimal, "NUMERIC"),
    (pa.types.is_timestamp, "TIMESTAMP"),
    (pa.types.is_date, "DATE"),
    (pa.types.is_time, "TIME"),
    (pa.types.is_binary, "BYTES"),
]


def _field(f: pa.Field) -> dict[str, Any]:
    if pa.types.is_list(f.type) or pa.types.is_large_list(f.type):
        inner = _field(pa.field(f.name, f.type.value_type))
        return inner | {"mode": "REPEATED"}
    if pa.types.is_struct(f.type):
        return {"name": f.name, "type": "RECORD", "mode": "NULLABLE", "fields": [_field(c) for c in f.type]}
    kind = next((name for test, name in _TYPES if test(f.type)), "STRING")
    if kind == "TIMESTAMP" and f.type.tz is None:
        kind = "DATETIME"
    return {"name": f.name, "type": kind, "mode": "NULLABLE"}


def _value(value: Any) -> Any:
    """A value as the REST API writes it: text, with timestamps in epoch microseconds."""
    import datetime as dt

    if value is None:
        return None
    if isinstance(value, list):
        return [{"v": _value(v)} for v in value]
    if isinstance(value, dict):
        return {"f": [{"v": _value(v)} for v in value.values()]}
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return str(int(value.timestamp() * 1_000_000))
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, bytes):
        import base64

        return base64.b64encode(value).decode()
    return str(value)

