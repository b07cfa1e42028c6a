with stg_orders as (
select id, customer_id, amount, ordered_at
from raw_orders
),
o as (
    select * from stg_orders
    where amount >= 10
)
select id, customer_id, cast(round(amount * 100) as bigint) as amount_cents, ordered_at
from o
