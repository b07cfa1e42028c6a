"""Reading seed files into Arrow, engine-agnostically; column types are applied by the engine."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from flowforge_compiler.errors import Location, ProjectFileError
from flowforge_compiler.plan import PlanNode

if TYPE_CHECKING:
    import pyarrow as pa


def read_seed(node: PlanNode, root: Path) -> pa.Table:
    """A CSV or Parquet seed as an Arrow table; typed columns are read as text, cast later."""
    import pyarrow as pa

    assert node.seed is not None
    path = root / node.seed.path
    try:
        if node.seed.format == "parquet":
            import pyarrow.parquet as pq

            return pq.read_table(path)
        import pyarrow.csv as pacsv

        as_text = {col: pa.string() for col in node.seed.column_types}
        # As in dbt, an empty field is NULL, for text columns too.
        options = pacsv.ConvertOptions(column_types=as_text, strings_can_be_null=True)
        return pacsv.read_csv(path, convert_options=options)
    except (OSError, pa.ArrowInvalid) as exc:
        raise ProjectFileError(f"cannot read seed: {exc}", location=Location(node.seed.path)) from exc
