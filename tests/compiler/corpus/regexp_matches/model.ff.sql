select id, regexp_matches(s, '^[0-9 ]+$') as v from {{ ref('numbers') }}
