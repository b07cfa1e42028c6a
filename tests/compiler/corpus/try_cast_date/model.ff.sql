select id, try_cast(s as date) as v from {{ ref('numbers') }}
