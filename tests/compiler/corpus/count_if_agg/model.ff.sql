select count_if(n > 0) as v from {{ ref('numbers') }}
