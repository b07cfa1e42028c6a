select count(*) filter (where n > 0) as positive, count(*) as total from {{ ref('numbers') }}
