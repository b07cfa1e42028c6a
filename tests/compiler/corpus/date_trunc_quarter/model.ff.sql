select id, date_trunc('quarter', d) as v from {{ ref('numbers') }}
