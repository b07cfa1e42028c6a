select id, strpos(coalesce(s, ''), '2') as v from {{ ref('numbers') }}
