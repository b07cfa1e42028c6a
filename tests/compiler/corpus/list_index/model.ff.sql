select list_value(1, 2, 3)[2] as v
