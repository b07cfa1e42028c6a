select distinct on (flag) flag, id from {{ ref('numbers') }} order by flag, id
