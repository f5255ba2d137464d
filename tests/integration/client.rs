//! `vastgate client` (the real binary) against a live server: every answer compared with DuckDB
//! reading the same Parquet file, failures by exit code and the gRPC code's name.

use std::process::Output;

use crate::{
    harness::{TestServer, parquet_path},
    referee::duckdb_count,
    security::Callers,
};

/// Runs `vastgate client --addr <server> ARGS` off the runtime the server lives on.
pub(crate) async fn client(addr: &str, args: &[&str]) -> Output {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_vastgate"));
    command.args(["client", "--addr", addr]).args(args);
    command
        .env_remove("VASTGATE_TOKEN")
        .env_remove("VASTGATE_ADDR");
    tokio::task::spawn_blocking(move || command.output().expect("run vastgate client"))
        .await
        .unwrap()
}

fn stdout(output: &Output) -> String {
    assert!(
        output.status.success(),
        "exit {:?}\nstderr: {}",
        output.status.code(),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout.clone()).unwrap()
}

/// The CSV output as rows of fields, header first.
fn csv_rows(output: &Output) -> Vec<Vec<String>> {
    let text = stdout(output);
    csv::Reader::from_reader(text.as_bytes())
        .records()
        .map(|r| r.unwrap().iter().map(str::to_owned).collect())
        .collect()
}

fn csv_header(output: &Output) -> Vec<String> {
    let text = stdout(output);
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_owned)
        .collect()
}

fn json_lines(output: &Output) -> Vec<serde_json::Value> {
    stdout(output)
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect()
}

fn duckdb_rows(sql: &str) -> Vec<Vec<String>> {
    let conn = duckdb::Connection::open_in_memory().unwrap();
    let sql = sql.replace(
        "SENSORS",
        &format!("read_parquet('{}')", parquet_path("sensors").display()),
    );
    let mut stmt = conn.prepare(&sql).unwrap();
    let columns = stmt.column_count();
    let mut rows = stmt.query([]).unwrap();
    let mut out = Vec::new();
    while let Some(row) = rows.next().unwrap() {
        out.push(
            (0..columns)
                .map(|i| match row.get_ref(i).unwrap() {
                    duckdb::types::ValueRef::Null => String::new(),
                    duckdb::types::ValueRef::Text(t) => String::from_utf8_lossy(t).into_owned(),
                    duckdb::types::ValueRef::BigInt(v) => v.to_string(),
                    duckdb::types::ValueRef::Int(v) => v.to_string(),
                    duckdb::types::ValueRef::HugeInt(v) => v.to_string(),
                    duckdb::types::ValueRef::Double(v) => v.to_string(),
                    other => format!("{other:?}"),
                })
                .collect(),
        );
    }
    out
}

fn close(a: &str, b: &str) -> bool {
    let (x, y): (f64, f64) = (a.parse().unwrap(), b.parse().unwrap());
    (x - y).abs() <= 1e-9 * x.abs().max(y.abs()).max(1.0)
}

#[tokio::test]
async fn lists_describes_and_selects_like_duckdb() {
    let server = TestServer::start().await;
    let addr = format!("http://{}", server.grpc);

    let schemas = csv_rows(&client(&addr, &["--format", "csv", "schemas"]).await);
    assert_eq!(schemas, vec![vec!["demo".to_owned()]]);

    let tables = client(&addr, &["--format", "csv", "tables", "demo"]).await;
    let header = csv_header(&tables);
    let (table, rows) = (
        header.iter().position(|h| h == "table").unwrap(),
        header.iter().position(|h| h == "num_rows").unwrap(),
    );
    for row in csv_rows(&tables) {
        assert_eq!(
            row[rows].parse::<u64>().unwrap(),
            duckdb_count(&row[table], "true"),
            "{row:?}"
        );
    }

    let described =
        json_lines(&client(&addr, &["--format", "json", "describe", "demo.sensors"]).await);
    let names: Vec<&str> = described
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    let expected = duckdb_rows("SELECT column_name FROM (DESCRIBE SELECT * FROM SENSORS)");
    assert_eq!(
        names,
        expected.iter().map(|r| r[0].as_str()).collect::<Vec<_>>()
    );

    // The README's example, and every other form of the --where grammar, count like DuckDB.
    for condition in [
        "region = 'east' AND temperature > 25",
        "region IN ('north', 'south') OR NOT sensor_id BETWEEN 3 AND 17",
        "temperature IS NULL",
        "region LIKE 'we%' AND humidity <= 40.5",
        "region LIKE '%ort%' AND temperature IS NOT NULL",
        "ts >= TIMESTAMP '2026-01-05 06:00:00' AND (sensor_id = 1 OR sensor_id <> 2)",
    ] {
        let counted = json_lines(
            &client(
                &addr,
                &[
                    "--format",
                    "json",
                    "count",
                    "demo.sensors",
                    "--where",
                    condition,
                ],
            )
            .await,
        );
        assert_eq!(
            counted[0]["count"].as_u64().unwrap(),
            duckdb_count("sensors", condition),
            "{condition}"
        );
    }

    let selected = client(
        &addr,
        &[
            "--format",
            "csv",
            "select",
            "demo.sensors",
            "--columns",
            "sensor_id,temperature",
            "--where",
            "region = 'east' AND temperature > 25",
        ],
    )
    .await;
    assert_eq!(csv_header(&selected), ["sensor_id", "temperature"]);
    let mut got: Vec<(i64, String)> = csv_rows(&selected)
        .into_iter()
        .map(|r| (r[0].parse().unwrap(), r[1].clone()))
        .collect();
    let mut want: Vec<(i64, String)> = duckdb_rows(
        "SELECT sensor_id, temperature FROM SENSORS WHERE region = 'east' AND temperature > 25",
    )
    .into_iter()
    .map(|r| (r[0].parse().unwrap(), r[1].clone()))
    .collect();
    got.sort_by(|a, b| a.partial_cmp(b).unwrap());
    want.sort_by(|a, b| a.partial_cmp(b).unwrap());
    assert_eq!(got.len(), want.len());
    assert!(
        got.iter()
            .zip(&want)
            .all(|(g, w)| g.0 == w.0 && close(&g.1, &w.1))
    );

    // The aligned table: a bordered header naming the columns, one line per row.
    let table = stdout(
        &client(
            &addr,
            &[
                "select",
                "demo.sensors",
                "--columns",
                "ts,sensor_id,region",
                "--limit",
                "3",
            ],
        )
        .await,
    );
    let lines: Vec<&str> = table.lines().collect();
    assert!(
        lines[0].starts_with("+-") && lines[1].contains("sensor_id") && lines[1].contains("region"),
        "{table}"
    );
    assert_eq!(lines.len(), 3 + 4, "{table}");
    // Timestamps print in their zone (the demo's are UTC, 2026).
    assert!(
        lines[3].contains("2026-") && lines[3].contains('Z'),
        "{table}"
    );
}

#[tokio::test]
async fn sql_and_analytics_answer_like_duckdb() {
    let server = TestServer::start().await;
    let addr = format!("http://{}", server.grpc);

    let sql = client(
        &addr,
        &[
            "--format",
            "csv",
            "sql",
            "demo.sensors",
            "--where",
            "temperature > 0",
            "SELECT region, count(*) AS n FROM t GROUP BY region ORDER BY region",
        ],
    )
    .await;
    assert_eq!(
        csv_rows(&sql),
        duckdb_rows(
            "SELECT region, count(*) FROM SENSORS WHERE temperature > 0 GROUP BY region ORDER BY region"
        )
    );

    let percentiles = client(
        &addr,
        &[
            "--format",
            "csv",
            "percentiles",
            "demo.sensors",
            "--value-column",
            "temperature",
            "--group-by",
            "region",
            "--quantiles",
            "0.5,0.9",
            "--where",
            "temperature > 0",
        ],
    )
    .await;
    assert_eq!(
        csv_header(&percentiles),
        ["region", "n", "quantile", "value"]
    );
    let mut got = csv_rows(&percentiles);
    got.sort();
    // DuckDB takes one constant quantile per call: one SELECT per quantile.
    let want = duckdb_rows(
        "SELECT * FROM (SELECT region, count(temperature), 0.5::DOUBLE AS q, \
         quantile_cont(temperature, 0.5) FROM SENSORS WHERE temperature > 0 GROUP BY region \
         UNION ALL SELECT region, count(temperature), 0.9::DOUBLE, quantile_cont(temperature, 0.9) \
         FROM SENSORS WHERE temperature > 0 GROUP BY region) ORDER BY region, q",
    );
    assert_eq!(got.len(), want.len());
    for (g, w) in got.iter().zip(&want) {
        assert_eq!((&g[0], &g[1]), (&w[0], &w[1]), "{g:?} vs {w:?}");
        assert!(close(&g[2], &w[2]) && close(&g[3], &w[3]), "{g:?} vs {w:?}");
    }

    let top = json_lines(
        &client(
            &addr,
            &[
                "--format",
                "json",
                "top-n",
                "demo.sensors",
                "--group-by",
                "sensor_id",
                "--value-column",
                "temperature",
                "--function",
                "max",
                "--n",
                "3",
            ],
        )
        .await,
    );
    let want = duckdb_rows(
        "SELECT sensor_id, max(temperature) m FROM SENSORS GROUP BY sensor_id ORDER BY m DESC, sensor_id LIMIT 3",
    );
    assert_eq!(top.len(), 3);
    for (g, w) in top.iter().zip(&want) {
        assert_eq!(g["sensor_id"].as_str().unwrap(), w[0]);
        assert!(close(&g["value"].to_string(), &w[1]), "{g} vs {w:?}");
    }

    let bins = client(
        &addr,
        &[
            "--format",
            "csv",
            "histogram",
            "demo.sensors",
            "--value-column",
            "temperature",
            "--edges",
            "0,10,20,30",
        ],
    )
    .await;
    let header = csv_header(&bins);
    let (lower, count) = (
        header.iter().position(|h| h == "lower").unwrap(),
        header.iter().position(|h| h == "count").unwrap(),
    );
    for row in csv_rows(&bins) {
        let low: f64 = row[lower].parse().unwrap();
        let condition = format!("temperature >= {low} AND temperature < {}", low + 10.0);
        let expected = if low == 20.0 {
            duckdb_count("sensors", "temperature >= 20 AND temperature <= 30")
        } else {
            duckdb_count("sensors", &condition)
        };
        assert_eq!(row[count].parse::<u64>().unwrap(), expected, "{row:?}");
    }
}

#[tokio::test]
async fn failures_exit_with_the_grpc_code_and_say_what_to_fix() {
    let callers = Callers::new();
    let server = TestServer::with_config(&callers.auth_toml()).await;
    let addr = format!("http://{}", server.grpc);
    let admin = callers.admin.as_str();

    let output = client(&addr, &["schemas"]).await;
    assert_eq!(output.status.code(), Some(16));
    assert!(String::from_utf8_lossy(&output.stderr).starts_with("error: UNAUTHENTICATED: "));

    let output = client(&addr, &["--token", admin, "describe", "demo.nope"]).await;
    assert_eq!(output.status.code(), Some(5), "{output:?}");
    assert!(String::from_utf8_lossy(&output.stderr).contains("NOT_FOUND"));

    let output = client(
        &addr,
        &[
            "--token",
            admin,
            "count",
            "demo.sensors",
            "--where",
            "region = 'east' AND AND x = 1",
        ],
    )
    .await;
    assert_eq!(output.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("INVALID_ARGUMENT: --where: expected a column name"),
        "{stderr}"
    );
    let caret = stderr
        .lines()
        .find(|l| l.trim() == "^")
        .expect("a caret line");
    assert_eq!(caret.find('^'), Some(2 + 20), "{stderr}");

    let output = client(&addr, &["--token", admin, "cancel", "no-such-query"]).await;
    assert_eq!(output.status.code(), Some(5));

    let unused = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let output = client(&format!("http://{unused}"), &["schemas"]).await;
    assert_eq!(output.status.code(), Some(14));
    assert!(
        String::from_utf8_lossy(&output.stderr).starts_with("error: UNAVAILABLE: cannot connect")
    );

    // With the token, the admin commands list what the server did.
    let count = client(
        &addr,
        &[
            "--token",
            admin,
            "--format",
            "json",
            "count",
            "demo.sensors",
            "--where",
            "temperature > 0",
        ],
    )
    .await;
    let query_id = json_lines(&count)[0]["query_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let queries =
        json_lines(&client(&addr, &["--token", admin, "--format", "json", "queries"]).await);
    assert!(
        queries
            .iter()
            .any(|q| q["query_id"] == query_id.as_str() && q["list"] == "recent"),
        "{queries:?}"
    );
    let slow = json_lines(
        &client(
            &addr,
            &[
                "--token",
                admin,
                "--format",
                "json",
                "slow",
                "--min-duration-ms",
                "0.000001",
            ],
        )
        .await,
    );
    assert!(
        slow.iter().any(|q| q["query_id"] == query_id.as_str()),
        "{slow:?}"
    );
    // One query with a row per split: its splits all done, their rows adding up to the count.
    let splits = json_lines(
        &client(
            &addr,
            &["--token", admin, "--format", "json", "query", &query_id],
        )
        .await,
    );
    assert!(!splits.is_empty());
    for split in &splits {
        assert_eq!(split["query_id"], query_id.as_str());
        assert_eq!(split["state"], "ok", "the query's state: {split}");
        assert_eq!(split["split_details.state"], "done", "{split}");
    }
    let split_rows: u64 = splits.iter().map(|s| s["rows"].as_u64().unwrap()).sum();
    assert_eq!(split_rows, duckdb_count("sensors", "temperature > 0"));
    let endpoints = client(&addr, &["--token", admin, "--format", "csv", "endpoints"]).await;
    assert!(
        stdout(&endpoints).lines().count() <= 1,
        "the local backend has no endpoints"
    );
}

#[tokio::test]
async fn explain_prints_the_plan_of_a_data_command_instead_of_running_it() {
    let server = TestServer::start().await;
    let addr = format!("http://{}", server.grpc);
    let args = [
        "--explain",
        "--format",
        "csv",
        "count",
        "demo.sensors",
        "--where",
        "sensor_id < 5",
    ];
    let output = client(&addr, &args).await;
    assert_eq!(csv_header(&output), ["table", "item", "value", "why"]);
    let rows = csv_rows(&output);
    assert!(rows.iter().all(|r| r[0] == "demo.sensors"), "{rows:?}");
    let fact = |item: &str| {
        rows.iter()
            .find(|r| r[1] == item)
            .unwrap_or_else(|| panic!("no `{item}` in {rows:?}"))
            .clone()
    };
    assert_eq!(fact("query kind")[2], "count");
    assert_eq!(fact("residual filter")[2], "sensor_id < 5");
    assert_eq!(
        fact("table")[3],
        format!(
            "{} rows, {} bytes",
            duckdb_count("sensors", "true"),
            std::fs::metadata(parquet_path("sensors")).unwrap().len()
        )
    );
    let splits = fact("splits");
    assert!(splits[2].parse::<u32>().unwrap() >= 1);
    assert!(!splits[3].is_empty(), "every number has its reason");
    // Nothing ran: the query log holds the Explain, not a Count.
    let listed = server
        .admin()
        .await
        .list_queries(vastgate::proto::ListQueriesRequest { limit: 10 })
        .await
        .unwrap()
        .into_inner();
    assert!(
        listed.recent.iter().all(|q| q.method != "Count"),
        "{listed:?}"
    );
    assert!(listed.recent.iter().any(|q| q.method == "Explain"));
}
