{{ config(materialized='incremental', unique_key='id', tags=['marts']) }}
with o as (
    select * from {{ ref('stg_orders') }}
    where amount >= {{ var('min_amount') }}
)
select id, customer_id, {{ cents('amount') }} as amount_cents, ordered_at
from o
{% if is_incremental() %}
where ordered_at > (select max(ordered_at) from {{ this }})
{% endif %}
