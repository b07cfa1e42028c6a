{{ config(materialized='table', tags=['batch']) }}
select
    order_id,
    user_id,
    cast(amount as double) as amount
from {{ source('crm', 'orders') }}
