select n > 0 as positive, count(*) as k from {{ ref('numbers') }} group by 1
