use arrow::datatypes::{DataType, Field, Schema};

use super::*;

fn checked(sql: &str) -> String {
    check(sql).0
}

fn check(sql: &str) -> (String, bool) {
    let parser = crate::sql::SqlParser::new().unwrap();
    crate::sql::Statement::check_over_view(&parser, sql, "t")
        .unwrap_or_else(|err| panic!("{sql:?} refused: {err}"))
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
    let p = plan(&req, checked(&req.sql), false, &schema, 1000).unwrap();
    assert_eq!(p.columns, ["a", "b"]);
    assert_eq!(p.query.max_rows, Some(1000));
    let req = proto::SqlRequest {
        sql: "SELECT b FROM t".to_owned(),
        columns: vec!["b".to_owned()],
        limit: 10,
        ..Default::default()
    };
    let p = plan(&req, checked(&req.sql), false, &schema, 1000).unwrap();
    assert_eq!(p.columns, ["b"]);
    assert_eq!(p.query.max_rows, Some(10));
    let req = proto::SqlRequest { limit: 5000, ..req };
    assert_eq!(
        plan(&req, checked(&req.sql), false, &schema, 1000)
            .unwrap()
            .query
            .max_rows,
        Some(1000)
    );
    let req = proto::SqlRequest {
        columns: vec!["zz".to_owned()],
        ..req
    };
    assert!(
        plan(&req, checked(&req.sql), false, &schema, 1000)
            .unwrap_err()
            .to_string()
            .contains("unknown column `zz`")
    );
}

/// Every start shape reaches the engine in a form its input CTE `t` joins: plain SELECT,
/// WITH, WITH RECURSIVE with comments around the keywords, and a set operation.
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
        (
            "SELECT sum(a) AS s FROM t UNION ALL SELECT 42 ORDER BY 1",
            42,
        ),
    ] {
        let req = proto::SqlRequest {
            sql: sql.to_owned(),
            limit: 10,
            ..Default::default()
        };
        let (sql_text, once) = check(sql);
        let p = plan(&req, sql_text, once, &b.schema(), 100).unwrap();
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
