select id, substring(ts::varchar, 6, 5) as v, left(s, 2) as w from {{ ref('numbers') }}
