select id, translate(s, '12', 'ab') as v from {{ ref('numbers') }}
