WITH hourly AS (SELECT date_trunc('hour', ts) AS h, avg(temperature) AS v FROM t GROUP BY 1)
SELECT * FROM hourly;;
