select id, round(x) as v from {{ ref('numbers') }}
