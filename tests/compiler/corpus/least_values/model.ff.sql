select id, least(n, id, 3) as v from {{ ref('numbers') }}
