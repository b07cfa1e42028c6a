-- array_agg over no rows is NULL, and it keeps NULL values
select array_agg(n) as none, array_agg(flag) as flags from {{ ref('numbers') }} where id > 100
union all
select null, array_agg(flag order by id) from {{ ref('numbers') }}
