with recursive t(i) as (select 1 union all select i + 1 from t where i < 5) select i from t
