select n from {{ ref('numbers') }} union select n * -1 from {{ ref('numbers') }}
