select epoch_ms(ts) as v from {{ ref('numbers') }}
