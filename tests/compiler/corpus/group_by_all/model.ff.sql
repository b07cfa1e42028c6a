select flag, count(*) as k from {{ ref('numbers') }} group by all
