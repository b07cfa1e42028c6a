select * exclude (s, d, ts, flag) from {{ ref('numbers') }}
