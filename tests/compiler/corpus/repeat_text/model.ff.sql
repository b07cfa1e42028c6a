select id, repeat('ab', id) as v from {{ ref('numbers') }}
