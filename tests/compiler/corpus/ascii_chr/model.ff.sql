select id, ascii('A') as a, chr(cast(64 + id as integer)) as c from {{ ref('numbers') }}
