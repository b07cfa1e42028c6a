select id, cast(n as double) / 4 as v from {{ ref('numbers') }}
