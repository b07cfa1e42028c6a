select id from {{ ref('numbers') }} where n between -7 and 3 and id in (1, 2, 3)
