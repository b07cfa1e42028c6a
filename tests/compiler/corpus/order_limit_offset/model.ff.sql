select id from {{ ref('numbers') }} order by x desc limit 2 offset 1
