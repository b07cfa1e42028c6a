select id, list_sum([n, n]) as v from {{ ref('numbers') }}
