{{ config(materialized='table', tags=['batch']) }}
select
    order_id,
    user_id,
    cast(amount as double precision) as amount
from {{ source('crm', 'orders') }}
