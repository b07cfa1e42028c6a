select id, monthname(d) as v from {{ ref('numbers') }}
