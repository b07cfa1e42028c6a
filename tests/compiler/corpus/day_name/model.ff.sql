select id, dayname(d) as v from {{ ref('numbers') }}
