select arg_max(id, x) as v from {{ ref('numbers') }}
