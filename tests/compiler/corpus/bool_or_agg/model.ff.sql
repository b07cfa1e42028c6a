select bool_or(flag) as o, bool_or(n > 5) as big from {{ ref('numbers') }}
