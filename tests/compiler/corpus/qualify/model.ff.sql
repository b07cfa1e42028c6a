select id from {{ ref('numbers') }} qualify row_number() over (order by x desc) <= 2
