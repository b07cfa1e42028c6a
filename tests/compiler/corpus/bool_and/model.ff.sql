select bool_and(flag) as v, bool_or(flag) as w from {{ ref('numbers') }}
