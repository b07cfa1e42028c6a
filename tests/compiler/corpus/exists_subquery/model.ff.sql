select id from {{ ref('numbers') }} o where exists (select 1 from {{ ref('numbers') }} i where i.n = o.n + 5)
