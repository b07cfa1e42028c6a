select id, concat_ws('-', s, cast(n as varchar)) as v from {{ ref('numbers') }}
