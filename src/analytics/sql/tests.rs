use arrow::datatypes::{DataType, Field, Schema};

use super::*;

fn ok(sql: &str) -> String {
    validate(sql).unwrap_or_else(|err| panic!("{sql:?} refused: {err}"))
}

fn refused(sql: &str) -> String {
    match validate(sql) {
        Ok(s) => panic!("{sql:?} accepted as {s:?}"),
        Err(err) => err.to_string(),
    }
}

#[test]
fn accepts_single_queries() {
    assert_eq!(ok("SELECT * FROM t"), "SELECT * FROM t");
    assert_eq!(ok("  select count(*) from t;  "), "SELECT count(*) from t");
    assert_eq!(ok("SELECT 1 ; ; -- done"), "SELECT 1");
    assert_eq!(
        ok("WITH x AS (SELECT a FROM t) SELECT * FROM x"),
        "WITH  x AS (SELECT a FROM t) SELECT * FROM x"
    );
    // Leading comments go, so the engine can join its input CTE to the WITH list.
    assert_eq!(
        ok("/* c */ with /* d */ recursive -- e\n x AS (SELECT 1) SELECT * FROM x"),
        "WITH RECURSIVE  -- e\n x AS (SELECT 1) SELECT * FROM x"
    );
    assert_eq!(
        ok("-- c\nwith\"x\" AS (SELECT 1) SELECT 1"),
        "WITH \"x\" AS (SELECT 1) SELECT 1"
    );
    ok("SELECT 'a;b', \"we;ird\", $$x;y$$, $tag$ ; $tag$, E'it\\'s;' FROM t");
    ok("SELECT /* ; /* nested ; */ still comment ; */ 1");
    ok("SELECT \"drop\", \"set\" FROM t -- ; drop table t");
    ok("SELECT replace(region, 'a', 'b') FROM t");
    ok("SELECT `odd;name` FROM t");
    ok("SELECT * FROM \"t\"");
}

#[test]
fn refuses_multiple_statements() {
    for sql in [
        "SELECT 1; SELECT 2",
        "SELECT 1; DROP TABLE t",
        "SELECT 1 -- comment\r; DROP TABLE t",
        "SELECT 1 /* a */ ; /* b */ SELECT 2",
        "SELECT 'a''' ; SELECT 2",
        "SELECT `x` ; SELECT `y`",
        // DuckDB does not treat `$a-b$` as a dollar tag, so the `;` is real.
        "SELECT $a-b$ ; SELECT 1 $a-b$",
        // A backslash only escapes in E'' strings: 'a\' ends the string.
        "SELECT 'a\\'; SELECT 1 --'",
    ] {
        let err = refused(sql);
        assert!(
            err.contains("single statement") || err.contains("not allowed"),
            "{sql}: {err}"
        );
    }
}

#[test]
fn refuses_other_statements_and_functions() {
    for (sql, needle) in [
        ("", "empty"),
        ("  -- nothing", "empty"),
        ("DROP TABLE t", "starting with SELECT"),
        ("COPY t TO 'x.csv'", "starting with SELECT"),
        ("PRAGMA version", "starting with SELECT"),
        ("SET threads = 1", "starting with SELECT"),
        ("(SELECT 1)", "starting with SELECT"),
        (
            "WITH x AS (SELECT 1) INSERT INTO y SELECT * FROM x",
            "`insert`",
        ),
        ("SELECT * FROM read_parquet('/etc/passwd')", "read_parquet"),
        ("SELECT * FROM READ_CSV ('/etc/passwd')", "read_csv"),
        ("SELECT * FROM \"read_json\"('/etc/passwd')", "read_json"),
        ("SELECT * FROM glob('/*')", "glob"),
        (
            "SELECT * FROM main.parquet_metadata('x')",
            "parquet_metadata",
        ),
        ("SELECT * FROM query('SELECT 1')", "query"),
        ("SELECT * FROM arrow(9223372036854775808)", "arrow"),
        ("SELECT * FROM duckdb_settings()", "duckdb_settings"),
        ("SELECT * FROM '/etc/passwd'", "not files"),
        ("SELECT * FROM t JOIN 'x.parquet' USING (a)", "not files"),
        ("SELECT * FROM \"data/x.parquet\"", "not files"),
        ("SELECT getenv('HOME')", "getenv"),
        ("SELECT * FROM main.__vastgate_input_0_ab", "reserved"),
        ("SELECT * FROM \"__VASTGATE_input_1_cd\"", "reserved"),
        ("SELECT 'unterminated", "unterminated"),
        ("SELECT /* unterminated", "unterminated"),
        ("SELECT \"unterminated", "unterminated"),
        ("SELECT $x$ unterminated", "unterminated"),
    ] {
        let err = refused(sql);
        assert!(err.contains(needle), "{sql}: {err}");
    }
}

#[test]
fn plan_limits_rows_and_columns() {
    let schema = Schema::new(vec![
        Field::new("a", DataType::Int64, true),
        Field::new("b", DataType::Utf8, true),
    ]);
    let req = proto::SqlRequest {
        sql: "SELECT * FROM t".to_owned(),
        ..Default::default()
    };
    let p = plan(&req, &schema, 1000).unwrap();
    assert_eq!(p.columns, ["a", "b"]);
    assert_eq!(p.query.max_rows, Some(1000));
    let req = proto::SqlRequest {
        sql: "SELECT b FROM t".to_owned(),
        columns: vec!["b".to_owned()],
        limit: 10,
        ..Default::default()
    };
    let p = plan(&req, &schema, 1000).unwrap();
    assert_eq!(p.columns, ["b"]);
    assert_eq!(p.query.max_rows, Some(10));
    let req = proto::SqlRequest { limit: 5000, ..req };
    assert_eq!(
        plan(&req, &schema, 1000).unwrap().query.max_rows,
        Some(1000)
    );
    let req = proto::SqlRequest {
        columns: vec!["zz".to_owned()],
        ..req
    };
    assert!(
        plan(&req, &schema, 1000)
            .unwrap_err()
            .to_string()
            .contains("unknown column `zz`")
    );
}

/// Every start shape reaches the engine in a form its input CTE `t` joins: plain SELECT,
/// WITH, and WITH RECURSIVE with comments around the keywords.
#[test]
fn validated_sql_runs_on_the_engine() {
    use crate::analytics::testing::{batch, i64s};
    let b = batch(vec![("a", i64s(&[Some(1), Some(2), Some(3)]))]);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let pool = crate::analytics::testing::pool();
    for (sql, sum) in [
        (
            "WITH x AS (SELECT a * 2 AS d FROM t) SELECT sum(d) AS s FROM x; -- trailing",
            12,
        ),
        ("-- lead\n  select sum(a) AS s from t", 6),
        (
            "/* c */ with /* d */ Recursive -- e\n r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 4) \
             SELECT sum(n * a) AS s FROM r, t",
            60,
        ),
    ] {
        let req = proto::SqlRequest {
            sql: sql.to_owned(),
            limit: 10,
            ..Default::default()
        };
        let p = plan(&req, &b.schema(), 100).unwrap();
        let out = runtime.block_on(async {
            pool.run(
                crate::engine::EngineInput::from_batches(b.schema(), vec![b.clone()]),
                p.query,
                tokio_util::sync::CancellationToken::new(),
            )
            .await
            .unwrap()
            .collect()
            .await
            .unwrap()
        });
        let got = arrow::util::pretty::pretty_format_batches(&out)
            .unwrap()
            .to_string();
        assert!(got.contains(&format!("| {sum} ")), "{sql}: {got}");
    }
}
