-- each integer type's own bounds: the smallest value is one further from zero than the largest
select id, s, try_cast(s as smallint) as small, try_cast(s as integer) as normal, try_cast(s as bigint) as big
from (
    select 1 as id, '-32768' as s union all select 2, '32768'
    union all select 3, '-2147483648' union all select 4, '2147483648'
    union all select 5, '-9223372036854775808' union all select 6, '9223372036854775808'
) as bounds
