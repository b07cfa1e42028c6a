select a.id, b.k from {{ ref('numbers') }} a, lateral (select a.n * 2 as k) b
