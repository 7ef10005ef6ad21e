mkdir logs
touch -d '2024-01-05 10:00' logs/app.log
touch -d '2024-03-01 08:30' logs/worker-2.log
touch -d '2024-02-11 23:59' logs/worker-1.log
touch -d '2023-12-31 12:00' logs/zeta.log
touch -d '2024-02-29 17:45' logs/access.log
