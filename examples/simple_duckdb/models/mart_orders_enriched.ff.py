"""Orders joined to their users; `valid_amt` marks orders with a positive amount."""

import pandas as pd

from flowforge_compiler import model


@model(
    name="mart_orders_enriched",
    deps=["orders.ff", "users_enriched"],
    requires={"orders": {"order_id", "user_id", "amount"}, "users_enriched": {"id", "email", "is_gmail"}},
)
def build(frames: dict[str, pd.DataFrame]) -> pd.DataFrame:
    orders = frames["orders"]
    users = frames["users_enriched"][["id", "email", "is_gmail"]]
    joined = orders.merge(users, left_on="user_id", right_on="id", how="left").drop(columns=["id"])
    joined["valid_amt"] = joined["amount"] > 0
    return joined[["order_id", "user_id", "email", "is_gmail", "amount", "valid_amt"]]
