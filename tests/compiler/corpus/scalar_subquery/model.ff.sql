select id, (select max(n) from {{ ref('numbers') }}) - n as v from {{ ref('numbers') }}
