select id, ts - interval 1 hour as v from {{ ref('numbers') }}
