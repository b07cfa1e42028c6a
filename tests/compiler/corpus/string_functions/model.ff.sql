select id, upper(s) as u, length(s) as l, trim(s) as t, replace(s, '1', 'one') as r, reverse(s) as rv from {{ ref('numbers') }}
