"""Reading seed files into Arrow, engine-agnostically; column types are applied by the engine.

A seed loads exactly what the file says: only an empty field is NULL (dbt's and DuckDB's CSV
convention; a dbt project's seeds also read a quoted empty value as NULL and whole numbers as
INTEGER and date-times as TIMESTAMP, as dbt does), so `NA` (Namibia), `n/a`, `null`, `NaN` and `None` stay text unless
seeds/schema.yml lists them under `null_values`. Problems name the file and the line.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import TYPE_CHECKING

from flowforge_compiler.errors import Location, ProjectFileError
from flowforge_compiler.paths import project_file
from flowforge_compiler.plan import PlanNode

if TYPE_CHECKING:
    import pyarrow as pa


def read_seed(node: PlanNode, root: Path) -> pa.Table:
    """A CSV or Parquet seed as an Arrow table; typed columns are read as text, cast later."""
    import pyarrow as pa

    assert node.seed is not None
    display = node.seed.path
    path = root / project_file(root, root / display, display)
    if node.seed.format == "parquet":
        import pyarrow.parquet as pq

        try:
            return pq.read_table(path)
        except (OSError, pa.ArrowInvalid) as exc:
            raise ProjectFileError(f"cannot read the Parquet seed: {exc}", location=Location(display)) from exc
    import pyarrow.csv as pacsv

    data = _utf8_bytes(path, display)
    _check_header(data, display)
    _check_quotes(data, display)
    dbt = node.seed.convention == "dbt"
    options = pacsv.ConvertOptions(
        column_types={col: pa.string() for col in node.seed.column_types},
        null_values=["", *node.seed.null_values],
        strings_can_be_null=True,
        quoted_strings_can_be_null=dbt,  # "" in quotes: an empty text, as in DuckDB; NULL in dbt's seeds
    )
    try:
        table = pacsv.read_csv(io.BytesIO(data), convert_options=options)
    except pa.ArrowInvalid as exc:
        raise _located_error(data, display, exc) from exc
    return _typed_as_dbt_types_them(table) if dbt else table


def _typed_as_dbt_types_them(table: pa.Table) -> pa.Table:
    """dbt types a column of whole numbers INTEGER (one whose values do not fit stays BIGINT,
    where dbt would fail to load it) and a column of date-times TIMESTAMP, in microseconds
    (the CSV reader gives seconds, which DuckDB would keep as TIMESTAMP_S)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    for index, column in enumerate(table.columns):
        if pa.types.is_timestamp(column.type) and column.type.unit != "us":
            typed = pa.timestamp("us", column.type.tz)
            table = table.set_column(index, table.field(index).with_type(typed), column.cast(typed))
            continue
        if not pa.types.is_int64(column.type):
            continue
        low, high = pc.min_max(column).values()
        if low.as_py() is None or (low.as_py() >= -(2**31) and high.as_py() < 2**31):
            table = table.set_column(index, table.field(index).with_type(pa.int32()), column.cast(pa.int32()))
    return table


def _utf8_bytes(path: Path, display: str) -> bytes:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ProjectFileError(f"cannot read the seed: {exc.strerror}", location=Location(display)) from exc
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ProjectFileError(
            f"the seed is not UTF-8 text (byte {data[exc.start]:#04x} on line {line})",
            location=Location(display, line),
            hint="save the file as UTF-8",
        ) from exc
    return data


def _check_header(data: bytes, display: str) -> None:
    first = next(csv.reader([data.split(b"\n", 1)[0].decode("utf-8-sig")]), [])
    if not first:
        raise ProjectFileError("the seed has no header row", location=Location(display, 1))
    seen: set[str] = set()
    for name in first:
        if name in seen:
            raise ProjectFileError(f"the header names the column {name!r} twice", location=Location(display, 1))
        seen.add(name)


def _check_quotes(data: bytes, display: str) -> None:
    """A quote opened and never closed would take every line after it into one field (two rows
    loaded as one, silently). Balanced quotes come in pairs, so only an odd count is read again,
    strictly, to name the line the open one starts on."""
    if data.count(b'"') % 2 == 0:
        return
    reader = csv.reader(io.StringIO(data.decode("utf-8-sig"), newline=""), strict=True)
    started = 1
    try:
        for _row in reader:
            started = reader.line_num + 1
    except csv.Error as exc:
        raise ProjectFileError(
            f"a quoted value on line {started} is never closed ({exc})",
            location=Location(display, started),
            hint='close the quote, or write a quote inside a value as two: ""',
        ) from None


def _located_error(data: bytes, display: str, exc: Exception) -> ProjectFileError:
    """Find the line the CSV reader stumbled on (it does not say), for ragged rows."""
    reader = csv.reader(io.StringIO(data.decode("utf-8-sig"), newline=""))
    width = None
    for row in reader:
        if width is None:
            width = len(row)
        elif row and len(row) != width:
            return ProjectFileError(
                f"row has {len(row)} fields, the header has {width}",
                location=Location(display, reader.line_num),
                hint="every row needs one field per header column; quote values that contain commas",
            )
    return ProjectFileError(f"cannot read the seed: {exc}", location=Location(display))
