select id, date_diff('day', ts, timestamp '2024-03-06 01:00:00') as d, date_diff('week', ts, timestamp '2024-03-06 01:00:00') as w,
    date_diff('month', ts, timestamp '2024-03-06 01:00:00') as m, date_diff('year', d, date '2025-01-01') as y from {{ ref('numbers') }}
