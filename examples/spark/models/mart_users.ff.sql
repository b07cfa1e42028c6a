-- Materialized as a view (see project.yml).
select id, email, is_gmail
from {{ ref('users_enriched') }}
