select id, strftime(ts, '%Y-%m-%d %H:%M') as v from {{ ref('numbers') }}
