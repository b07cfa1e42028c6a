select id, length(s) as v, length('héllo') as h from {{ ref('numbers') }}
