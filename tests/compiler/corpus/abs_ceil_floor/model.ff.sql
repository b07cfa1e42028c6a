select id, abs(x) as a, ceil(x) as c, floor(x) as f, sign(x) as s from {{ ref('numbers') }}
