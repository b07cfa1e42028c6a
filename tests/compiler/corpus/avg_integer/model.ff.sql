select avg(n) as v from {{ ref('numbers') }}
