select id, regexp_replace(s, 'X|[0-9]', '_', 'gi') as v from {{ ref('numbers') }}
