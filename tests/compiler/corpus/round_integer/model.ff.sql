select id, round(n, 1) as v from {{ ref('numbers') }}
