select id, round(cast(x as decimal(10, 3)), 2) as v from {{ ref('numbers') }}
