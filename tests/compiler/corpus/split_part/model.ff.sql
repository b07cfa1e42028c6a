select id, split_part('a,b,c', ',', id) as v from {{ ref('numbers') }}
