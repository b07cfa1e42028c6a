select strptime('05/03/2024 07:08', '%d/%m/%Y %H:%M') as v
