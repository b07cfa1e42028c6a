select id, s ilike 'X%' as v from {{ ref('numbers') }}
