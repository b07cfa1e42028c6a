{{ config(materialized='table', tags=['batch']) }}
-- Users from the CRM source, with e-mail addresses normalised.
select
    id,
    lower(trim(email)) as email
from {{ source('crm', 'users') }}
