select id, row_number() over (order by flag nulls first, id) as f, row_number() over (order by flag desc nulls last, id) as l from {{ ref('numbers') }}
