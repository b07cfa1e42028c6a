select id, ts + interval 2 hour as v from {{ ref('numbers') }}
