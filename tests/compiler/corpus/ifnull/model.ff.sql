select id, ifnull(s, 'none') as v from {{ ref('numbers') }}
