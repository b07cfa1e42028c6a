select range as v from range(3)
