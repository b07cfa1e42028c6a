select id, contains(s, '1') as v from {{ ref('numbers') }}
