select {'a': 1, 'b': 'x'}.a as v
