select string_agg(cast(id as varchar), ',' order by x) as v from {{ ref('numbers') }}
