select id, customer_id, amount, ordered_at
from raw_orders
