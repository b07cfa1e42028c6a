select a.id as a, b.k as b from {{ ref('numbers') }} as a full outer join (values (1), (9)) as b(k) on a.id = b.k
