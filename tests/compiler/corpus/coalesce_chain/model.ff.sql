select id, coalesce(null, flag, n > 0) as v from {{ ref('numbers') }}
