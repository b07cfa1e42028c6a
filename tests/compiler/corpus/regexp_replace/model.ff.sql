select id, regexp_replace(s, '[0-9]', '#', 'g') as v from {{ ref('numbers') }}
