"""Per-customer totals, in Python."""

import pandas as pd

from flowforge_compiler import model


def _total(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.groupby("customer_id", as_index=False)["amount_cents"].sum()


@model(name="customer_totals", deps=["big_orders.ff", "customers.ff"], requires={"big_orders": ["customer_id", "amount_cents"]})
def totals(frames: dict[str, pd.DataFrame]) -> pd.DataFrame:
    joined = _total(frames["big_orders"]).merge(frames["customers"], left_on="customer_id", right_on="id")
    return joined[["customer_id", "name", "amount_cents"]]
