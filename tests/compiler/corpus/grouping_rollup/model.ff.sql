select flag, count(*) as c from {{ ref('numbers') }} group by rollup (flag)
