select id, flag and n > 0 as a, flag or n > 0 as o, not flag as nf from {{ ref('numbers') }}
