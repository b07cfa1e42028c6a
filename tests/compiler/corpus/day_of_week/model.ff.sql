-- dayofweek counts from Sunday = 0, isodow from Monday = 1
select id, dayofweek(d) as w, isodow(d) as iso from {{ ref('numbers') }}
