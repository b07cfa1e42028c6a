select id, cast(flag as varchar) as v from {{ ref('numbers') }}
