select id, regexp_replace(s, '[0-9]', '#') as v from {{ ref('numbers') }}
