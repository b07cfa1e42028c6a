select id, date_trunc('hour', ts) as v from {{ ref('numbers') }}
