select id, last_day(d) as v from {{ ref('numbers') }}
