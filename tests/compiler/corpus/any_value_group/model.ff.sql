select flag, max(id) as top from {{ ref('numbers') }} group by flag
