-- ff_round_v1: DuckDB's round() on PostgreSQL (see RoundToPostgres in postgres.py).
-- Statements are separated by a line holding only ';'.
CREATE OR REPLACE FUNCTION ff_round_v1(x double precision, n integer) RETURNS double precision
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $fn$
DECLARE
  bits bigint;
  e integer;
  m numeric;
  shift integer;
  whole numeric;
  unit numeric;
  q numeric;
BEGIN
  IF x = 0 OR x = 'Infinity'::float8 OR x = '-Infinity'::float8 OR x = 'NaN'::float8 OR n < 0 THEN
    RETURN CASE WHEN n < 0 THEN NULL ELSE x END;
  END IF;
  bits := ('x' || encode(float8send(abs(x)), 'hex'))::bit(64)::bigint;
  e := (bits >> 52) & 2047;
  m := (bits & 4503599627370495)::numeric;
  IF e > 0 THEN m := m + 4503599627370496; shift := 1075 - e; ELSE shift := 1074; END IF;
  IF shift <= n THEN RETURN x; END IF;
  whole := m * (5::numeric ^ shift);
  unit := 10::numeric ^ (shift - n);
  q := div(whole, unit);
  IF 2 * (whole - q * unit) >= unit THEN q := q + 1; END IF;
  RETURN sign(x) * (q / (10::numeric ^ n))::double precision;
END
$fn$
;
CREATE OR REPLACE FUNCTION ff_round_v1(x numeric, n integer) RETURNS numeric
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $fn$ SELECT round(x, n) $fn$
