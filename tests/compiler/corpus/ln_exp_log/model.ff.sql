select id, round(ln(id), 6) as l, round(exp(id), 4) as e, round(log10(id * 10), 6) as g from {{ ref('numbers') }}
