select id, sum(x) over (order by id range between 1 preceding and current row) as v from {{ ref('numbers') }}
