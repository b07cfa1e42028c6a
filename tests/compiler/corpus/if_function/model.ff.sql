select id, if(n > 0, 'pos', 'neg') as v from {{ ref('numbers') }}
