select id, s || '-' || id as v from {{ ref('numbers') }}
