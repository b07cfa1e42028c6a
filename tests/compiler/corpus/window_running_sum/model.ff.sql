select id, sum(n) over (order by id rows between unbounded preceding and current row) as v from {{ ref('numbers') }}
