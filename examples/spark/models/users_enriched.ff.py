"""Flags users whose address is a Gmail address, on Spark DataFrames (no pandas)."""

from pyspark.sql import DataFrame, functions as F

from flowforge_compiler import model


@model(name="users_enriched", deps=["users.ff"], requires={"users": {"id", "email"}})
def enrich(users: DataFrame) -> DataFrame:
    return users.withColumn("is_gmail", F.col("email").endswith("@gmail.com"))
