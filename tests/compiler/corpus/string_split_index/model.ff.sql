select id, split_part('a,b,c', ',', id::integer) as v from {{ ref('numbers') }} where id <= 3
