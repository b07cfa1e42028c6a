{{ config(materialized='ephemeral') }}
select id, customer_id, amount, ordered_at
from {{ source('shop', 'orders') }}
