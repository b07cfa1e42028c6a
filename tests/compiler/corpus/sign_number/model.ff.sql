select id, sign(n) as v, sign(x) as w from {{ ref('numbers') }}
