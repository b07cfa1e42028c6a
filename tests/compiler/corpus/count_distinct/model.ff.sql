select count(distinct flag) as v from {{ ref('numbers') }}
