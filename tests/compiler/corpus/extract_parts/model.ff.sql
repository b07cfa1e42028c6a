select id, extract(year from d) as y, extract(month from ts) as m, extract(dow from d) as w from {{ ref('numbers') }}
