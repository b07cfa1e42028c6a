select id, nullif(n, 7) as v from {{ ref('numbers') }}
