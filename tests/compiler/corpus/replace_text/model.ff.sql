select id, replace(s, '1', 'one') as v from {{ ref('numbers') }}
