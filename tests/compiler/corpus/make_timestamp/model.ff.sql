select id, make_timestamp(2024, 1, id, 6, 30, 0) as v from {{ ref('numbers') }}
