select sum(case when flag then 1 else 0 end) as trues, count(flag) as known from {{ ref('numbers') }}
