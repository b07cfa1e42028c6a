select id, round(x, 2) as v from {{ ref('numbers') }}
