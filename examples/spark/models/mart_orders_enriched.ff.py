"""Orders joined to their users; `valid_amt` marks orders with a positive amount (Spark DataFrames)."""

from pyspark.sql import DataFrame, functions as F

from flowforge_compiler import model


@model(
    name="mart_orders_enriched",
    deps=["orders.ff", "users_enriched"],
    requires={"orders": {"order_id", "user_id", "amount"}, "users_enriched": {"id", "email", "is_gmail"}},
)
def build(frames: dict[str, DataFrame]) -> DataFrame:
    orders = frames["orders"]
    users = frames["users_enriched"].select("id", "email", "is_gmail")
    joined = orders.join(users, orders.user_id == users.id, "left").drop("id")
    return joined.select("order_id", "user_id", "email", "is_gmail", "amount", (F.col("amount") > 0).alias("valid_amt"))
