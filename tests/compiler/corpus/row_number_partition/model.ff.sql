select id, row_number() over (partition by flag order by id) as v from {{ ref('numbers') }}
