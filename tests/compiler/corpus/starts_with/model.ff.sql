select id, starts_with(s, ' 1') as v, ends_with(s, 'x') as w from {{ ref('numbers') }}
