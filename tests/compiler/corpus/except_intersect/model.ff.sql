select n from {{ ref('numbers') }} except select 7
