select id from {{ ref('numbers') }} where id in (select id from {{ ref('numbers') }} where n > 0)
