select id, count(*) over (partition by flag) as v from {{ ref('numbers') }}
