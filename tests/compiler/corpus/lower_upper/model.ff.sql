select id, lower('AbC' || s) as lo, upper('xY' || s) as up from {{ ref('numbers') }}
