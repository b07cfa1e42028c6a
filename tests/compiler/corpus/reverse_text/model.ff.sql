select id, reverse(s) as v from {{ ref('numbers') }}
