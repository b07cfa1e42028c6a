select id, try_cast(s as double) as v from {{ ref('numbers') }}
