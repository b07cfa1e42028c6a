select id, try_cast(s as integer) as v from {{ ref('numbers') }}
