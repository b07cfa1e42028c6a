select string_agg(s, '|') filter (where s is not null) as v from (select s from {{ ref('numbers') }} order by id)
