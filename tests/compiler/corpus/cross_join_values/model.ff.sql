select id, k from {{ ref('numbers') }} cross join (values (10), (20)) as v(k)
