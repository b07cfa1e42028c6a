select id, cast(x as decimal(10, 2)) as v from {{ ref('numbers') }}
