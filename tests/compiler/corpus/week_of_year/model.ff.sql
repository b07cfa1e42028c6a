select id, weekofyear(d) as v from {{ ref('numbers') }}
