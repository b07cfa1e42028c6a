select id, rank() over (order by flag) as r, dense_rank() over (order by flag) as dr from {{ ref('numbers') }}
