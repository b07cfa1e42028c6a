select id, cast(ts as date) as v from {{ ref('numbers') }}
