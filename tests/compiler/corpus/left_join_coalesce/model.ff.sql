select a.id, coalesce(b.k, 0) as v from {{ ref('numbers') }} as a left join (values (1, 5), (3, 7)) as b(i, k) on a.id = b.i
