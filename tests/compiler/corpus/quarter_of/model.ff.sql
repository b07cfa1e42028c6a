select id, quarter(d) as v from {{ ref('numbers') }}
