select id, percent_rank() over (order by n) as p, cume_dist() over (order by n) as c from {{ ref('numbers') }}
