select bit_and(n) as a, bit_or(n) as o from {{ ref('numbers') }}
