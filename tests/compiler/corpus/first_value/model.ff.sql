select id, first_value(n) over (partition by flag order by id) as v from {{ ref('numbers') }}
