select id, cast('1' || id as integer) + 1 as v from {{ ref('numbers') }}
