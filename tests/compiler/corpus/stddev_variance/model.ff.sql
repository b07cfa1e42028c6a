select round(stddev_samp(n), 6) as sd, round(var_samp(n), 6) as var from {{ ref('numbers') }}
