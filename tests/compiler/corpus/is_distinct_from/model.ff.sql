select id, n is distinct from 7 as v from {{ ref('numbers') }}
