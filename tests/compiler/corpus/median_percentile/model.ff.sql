select median(x) as m, quantile_cont(x, 0.25) as q from {{ ref('numbers') }}
