select id, date_diff('month', date '2023-11-15', d) as v from {{ ref('numbers') }}
