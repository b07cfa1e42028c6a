select id, trunc(x) as v from {{ ref('numbers') }}
