select cast(session_start as date) as day, count(*) as sessions, sum(pageviews) as pageviews, sum(revenue) as revenue
from {{ ref('fct_sessions_streaming') }}
group by 1
order by 1
