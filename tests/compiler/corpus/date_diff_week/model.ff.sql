select id, date_diff('week', date '2023-11-15', d) as v from {{ ref('numbers') }}
