select id, name from raw_customers
