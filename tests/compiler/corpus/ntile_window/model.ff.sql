select id, ntile(2) over (order by id) as bucket from {{ ref('numbers') }}
