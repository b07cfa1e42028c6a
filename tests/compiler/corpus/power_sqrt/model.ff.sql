select id, power(n, 2) as p, sqrt(abs(n)) as r from {{ ref('numbers') }}
