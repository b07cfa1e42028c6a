select id, s like '%2%' as v, s not like 'x%' as w from {{ ref('numbers') }}
