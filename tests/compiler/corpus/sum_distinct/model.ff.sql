select sum(distinct n % 2) as v, count(distinct n % 2) as c from {{ ref('numbers') }}
