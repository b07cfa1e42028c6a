select id, concat('a', s) as v, 'a' || s as w from {{ ref('numbers') }}
