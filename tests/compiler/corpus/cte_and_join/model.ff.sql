with a as (select id, n from {{ ref('numbers') }}), b as (select id, x from {{ ref('numbers') }}) select a.id, a.n * b.x as v from a join b using (id)
