select id, dayofyear(d) as v from {{ ref('numbers') }}
