select id, case when x > 1 then 'big' when x > 0 then 'small' else 'negative' end as v from {{ ref('numbers') }}
