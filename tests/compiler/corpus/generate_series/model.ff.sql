select * from range(3) as t(i)
