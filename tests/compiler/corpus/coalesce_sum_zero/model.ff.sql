select coalesce(sum(n) filter (where n > 100), 0) as v from {{ ref('numbers') }}
