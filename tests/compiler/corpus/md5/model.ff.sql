select id, md5(cast(id as varchar)) as v from {{ ref('numbers') }}
