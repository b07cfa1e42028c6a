select id, d - interval 1 month as v from {{ ref('numbers') }}
