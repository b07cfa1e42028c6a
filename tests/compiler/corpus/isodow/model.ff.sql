select id, isodow(d) as v from {{ ref('numbers') }}
