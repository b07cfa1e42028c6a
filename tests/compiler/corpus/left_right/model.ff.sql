select id, left('abcdef', id) as l, right('abcdef', id) as r from {{ ref('numbers') }}
