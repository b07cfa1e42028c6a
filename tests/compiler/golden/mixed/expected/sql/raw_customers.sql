select * from (values (1, 'Ada'), (2, 'Grace')) as t(id, name)
