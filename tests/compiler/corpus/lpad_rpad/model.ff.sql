select id, lpad(cast(id as varchar), 3, '0') as l, rpad('a', 3, '-') as r from {{ ref('numbers') }}
