select id, greatest(n, 0, null) as v from {{ ref('numbers') }}
