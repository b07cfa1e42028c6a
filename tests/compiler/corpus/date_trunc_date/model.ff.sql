select id, date_trunc('month', d) as v from {{ ref('numbers') }}
