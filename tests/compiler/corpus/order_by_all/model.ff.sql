select id, n from {{ ref('numbers') }} order by all
