select array_agg(id order by id) as v from {{ ref('numbers') }}
