select id, regexp_extract(s, '[0-9]+') as v from {{ ref('numbers') }}
