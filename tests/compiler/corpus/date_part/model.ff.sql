select id, date_part('day', d) as v from {{ ref('numbers') }}
