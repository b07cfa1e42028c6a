select id, trim(s) as t, ltrim(s) as l, rtrim(s) as r from {{ ref('numbers') }}
