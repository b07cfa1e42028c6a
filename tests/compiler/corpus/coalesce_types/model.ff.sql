select id, coalesce(s, cast(n as varchar)) as v from {{ ref('numbers') }}
