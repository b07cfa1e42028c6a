select id, lag(n) over (order by id) as prev, lead(n, 1, 0) over (order by id) as next from {{ ref('numbers') }}
