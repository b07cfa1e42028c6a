select flag, n > 0 as pos, count(*) as c from {{ ref('numbers') }} group by grouping sets ((flag), (n > 0), ())
