select id, n % 4 as v, mod(n, 4) as w from {{ ref('numbers') }}
