select min(s) as lo, max(s) as hi from {{ ref('numbers') }}
