select len([1, 2, 3]) as n, list_contains([1, 2], 2) as c
