select id, d + 30 as v from {{ ref('numbers') }}
