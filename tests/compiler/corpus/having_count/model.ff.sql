select flag, count(*) as k from {{ ref('numbers') }} group by flag having count(*) > 1
