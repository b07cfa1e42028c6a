select id, name from {{ source('shop', 'customers') }}
