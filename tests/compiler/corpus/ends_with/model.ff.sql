select id, ends_with(s, '2') as v from {{ ref('numbers') }}
