select id, epoch(ts) as v from {{ ref('numbers') }}
