select id, n / 2 as half, n // 2 as whole, n % 3 as rest from {{ ref('numbers') }}
