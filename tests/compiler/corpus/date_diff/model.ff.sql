select id, date_diff('day', date '2024-01-01', d) as v from {{ ref('numbers') }}
