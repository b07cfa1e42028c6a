select id, d - date '2024-01-01' as v from {{ ref('numbers') }}
