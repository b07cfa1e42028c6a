select id, date_trunc('week', d) as v from {{ ref('numbers') }}
