use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema};

use super::*;
use crate::proto::{self, filter::Kind, literal::Value as Lit};

fn parser() -> SqlParser {
    SqlParser::new().expect("parser opens")
}

fn schema() -> Schema {
    Schema::new(vec![
        Field::new("sensor_id", DataType::Int64, false),
        Field::new("region", DataType::Utf8, true),
        Field::new("temperature", DataType::Float64, true),
        Field::new("humidity", DataType::Float32, true),
    ])
}

fn refused(sql: &str) -> String {
    match Statement::over_service_tables(&parser(), sql) {
        Err(SqlError::Refused(message)) => message,
        other => panic!("{sql}: expected a refusal, got {other:?}"),
    }
}

#[test]
fn anything_but_one_query_is_refused() {
    for sql in [
        "COPY demo.sensors TO '/tmp/x.csv'",
        "ATTACH '/tmp/x.db'",
        "SET threads = 1",
        "INSTALL httpfs",
        "PRAGMA version",
        "CREATE TABLE x AS SELECT 1",
        "EXPLAIN SELECT 1",
    ] {
        assert!(refused(sql).contains("only queries"), "{sql}");
    }
    assert!(refused("SELECT 1; SELECT 2").contains("one statement"));
    assert!(refused("WITH d AS (DELETE FROM x RETURNING *) SELECT * FROM d").contains("DELETE"));
}

#[test]
fn files_table_functions_and_internal_names_are_refused() {
    assert!(refused("SELECT * FROM read_parquet('/etc/passwd')").contains("table functions"));
    assert!(refused("SELECT * FROM range(3)").contains("table functions"));
    assert!(refused("SELECT * FROM '/data/x.parquet'").contains("unknown table"));
    assert!(refused("DESCRIBE demo.sensors").contains("DESCRIBE"));
    assert!(refused("SELECT getenv('HOME')").contains("getenv"));
    assert!(refused("SELECT * FROM __vastgate_input_1_x").contains("reserved"));
    assert!(refused("SELECT * FROM sensors").contains("schema.table"));
}

#[test]
fn a_syntax_error_carries_duckdbs_message() {
    let err = Statement::over_service_tables(&parser(), "SELEC 1").unwrap_err();
    assert!(
        matches!(&err, SqlError::Syntax(m) if m.contains("syntax error")),
        "{err:?}"
    );
}

#[test]
fn a_grouped_query_reads_the_columns_it_names_and_pushes_its_filter() {
    let statement = Statement::over_service_tables(
        &parser(),
        "SELECT region, avg(temperature) FROM demo.sensors WHERE sensor_id < 5 GROUP BY region",
    )
    .unwrap();
    let [table] = statement.tables.as_slice() else {
        panic!("one table: {:?}", statement.tables)
    };
    assert_eq!(table.name.to_string(), "demo.sensors");
    assert_eq!(
        table.columns(&schema()),
        ["sensor_id", "region", "temperature"]
    );
    let filter = pushed_filter(table, &schema(), &[]).unwrap();
    let Some(Kind::Compare(cmp)) = filter.kind else {
        panic!("{filter:?}")
    };
    assert_eq!(cmp.column, "sensor_id");
    assert_eq!(cmp.op(), proto::CompareOp::Lt);
    assert_eq!(cmp.value.unwrap().value, Some(Lit::IntValue(5)));
    assert!(!statement.is_single_table_scan());
}

#[test]
fn only_conjuncts_that_map_exactly_are_pushed() {
    let statement = Statement::over_service_tables(
        &parser(),
        "SELECT * FROM b.demo.sensors WHERE 3 < sensor_id AND humidity > 0.5 \
         AND region LIKE 'ea%' AND upper(region) = 'EAST' AND temperature BETWEEN 1 AND 2.5",
    )
    .unwrap();
    let table = &statement.tables[0];
    assert_eq!(table.name.bucket, "b");
    assert_eq!(table.columns(&schema()).len(), 4);
    let Some(Kind::And(list)) = pushed_filter(table, &schema(), &[]).unwrap().kind else {
        panic!("an AND")
    };
    let kinds: Vec<_> = list.filters.into_iter().filter_map(|f| f.kind).collect();
    assert_eq!(kinds.len(), 3, "{kinds:?}");
    assert!(matches!(&kinds[0], Kind::Compare(c) if c.op() == proto::CompareOp::Gt));
    assert!(matches!(&kinds[1], Kind::StartsWith(m) if m.pattern == "ea"));
    assert!(matches!(&kinds[2], Kind::Between(_)));
    assert!(statement.is_single_table_scan());
}

#[test]
fn joins_push_qualified_conjuncts_into_inner_sides_only() {
    let sql = "SELECT a.region, b.temperature FROM demo.sensors a JOIN demo.sensors b \
               ON a.sensor_id = b.sensor_id WHERE a.sensor_id < 3 AND temperature > 1";
    let statement = Statement::over_service_tables(&parser(), sql).unwrap();
    let [a, b] = statement.tables.as_slice() else {
        panic!("two uses")
    };
    assert!(pushed_filter(a, &schema(), &[]).is_some());
    assert!(pushed_filter(b, &schema(), &[]).is_none());
    let outer = sql.replace("JOIN", "LEFT JOIN");
    let statement = Statement::over_service_tables(&parser(), &outer).unwrap();
    assert!(pushed_filter(&statement.tables[0], &schema(), &[]).is_none());
}

#[test]
fn parameters_are_counted_and_their_values_pushed() {
    let statement = Statement::over_service_tables(
        &parser(),
        "SELECT count(*) FROM demo.sensors WHERE sensor_id < ? AND region = ?",
    )
    .unwrap();
    assert_eq!(statement.parameters(), 2);
    let table = &statement.tables[0];
    assert_eq!(table.columns(&schema()), ["sensor_id", "region"]);
    let params = [
        proto::Literal {
            value: Some(Lit::IntValue(7)),
        },
        proto::Literal { value: None },
    ];
    // The NULL parameter is not pushed; the other is.
    let filter = pushed_filter(table, &schema(), &params).unwrap();
    assert!(matches!(filter.kind, Some(Kind::Compare(c)) if c.column == "sensor_id"));
}

#[test]
fn the_rewrite_reads_inputs_under_the_names_the_query_uses() {
    let p = parser();
    let statement = Statement::over_service_tables(
        &p,
        "SELECT sensors.region FROM demo.sensors WHERE sensors.sensor_id IN (SELECT s.sensor_id FROM demo.sensors s)",
    )
    .unwrap();
    let sql = statement
        .over_inputs(&p, &["in0".to_owned(), "in1".to_owned()])
        .unwrap();
    assert!(sql.contains("FROM in0 AS sensors"), "{sql}");
    assert!(sql.contains("FROM in1 AS s"), "{sql}");
    assert!(!sql.contains("demo."), "{sql}");
}

#[test]
fn the_sql_rpc_reads_only_its_view() {
    let p = parser();
    assert!(Statement::over_view(&p, "SELECT * FROM t -- done", "t").is_ok());
    let with = "WITH x AS (SELECT * FROM t) SELECT count(*) FROM x";
    assert!(
        Statement::over_view(&p, with, "t")
            .unwrap()
            .starts_with("WITH")
    );
    assert!(matches!(
        Statement::over_view(&p, "SELECT * FROM demo.sensors", "t"),
        Err(SqlError::Refused(m)) if m.contains("only read the view t")
    ));
    assert!(matches!(
        Statement::over_view(&p, "SELECT * FROM t WHERE x = ?", "t"),
        Err(SqlError::Refused(_))
    ));
}

#[test]
fn star_of_one_table_reads_all_of_it_and_only_it() {
    let statement = Statement::over_service_tables(
        &parser(),
        "SELECT a.*, b.region FROM demo.sensors a, demo.sensors b",
    )
    .unwrap();
    let schema = Arc::new(schema());
    assert_eq!(statement.tables[0].columns(&schema).len(), 4);
    assert_eq!(statement.tables[1].columns(&schema), ["region"]);
}

fn view_checked(sql: &str) -> Result<String, SqlError> {
    Statement::over_view(&parser(), sql, "t")
}

#[test]
fn quoting_comments_and_strings_do_not_hide_a_second_statement() {
    for sql in [
        "SELECT 'a;b', \"we;ird\", $$x;y$$, $tag$ ; $tag$, E'it\\'s;' FROM t",
        "SELECT /* ; /* nested ; */ still comment ; */ 1",
        "SELECT \"drop\", \"set\" FROM t -- ; drop table t",
        "  select count(*) from t;  ",
        "/* c */ with /* d */ recursive -- e\n x AS (SELECT 1) SELECT * FROM x",
    ] {
        let out = view_checked(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
        // Printed again, it is still one statement, the same one.
        assert_eq!(
            view_checked(&out).as_ref(),
            Ok(&out),
            "{sql} printed as {out}"
        );
    }
    for sql in [
        "SELECT 1; DROP TABLE t",
        "SELECT 1 -- comment\r; DROP TABLE t",
        "SELECT 'a''' ; SELECT 2",
        "SELECT $a-b$ ; SELECT 1 $a-b$",
        "SELECT 'a\\'; SELECT 1 --'",
        "SELECT * FROM t JOIN 'x.parquet' USING (a)",
        "SELECT * FROM main.parquet_metadata('x')",
        "SELECT * FROM \"__VASTGATE_input_1_cd\"",
        "SELECT * FROM query('SELECT 1')",
        "SELECT 'unterminated",
        "",
        "  -- nothing",
    ] {
        assert!(view_checked(sql).is_err(), "{sql} accepted");
    }
}

#[test]
fn renamed_or_sampled_tables_push_nothing_and_are_no_plain_scan() {
    for sql in [
        "SELECT a FROM demo.sensors AS s(region, sensor_id) WHERE sensor_id < 5",
        "SELECT sensor_id FROM demo.sensors TABLESAMPLE 10% WHERE sensor_id < 5",
    ] {
        let statement = Statement::over_service_tables(&parser(), sql).unwrap();
        let table = &statement.tables[0];
        assert!(pushed_filter(table, &schema(), &[]).is_none(), "{sql}");
        assert!(!statement.is_single_table_scan(), "{sql}");
    }
    let renamed =
        Statement::over_service_tables(&parser(), "SELECT a FROM demo.sensors AS s(a) WHERE a < 5")
            .unwrap();
    assert_eq!(renamed.tables[0].columns(&schema()).len(), 4);
}

#[test]
fn a_where_the_scan_applied_is_dropped_with_its_columns() {
    let p = parser();
    let statement = Statement::over_service_tables(
        &p,
        "SELECT region, avg(temperature) FROM demo.sensors WHERE sensor_id < 5 GROUP BY region",
    )
    .unwrap();
    let table = &statement.tables[0];
    assert!(statement.is_whole_from(table));
    assert!(pushes_whole_where(table, &schema(), &[]));
    let dropped = statement.without_where(&[true]).unwrap();
    assert_eq!(
        dropped.tables[0].columns(&schema()),
        ["region", "temperature"]
    );
    let sql = dropped.over_inputs(&p, &["in0".to_owned()]).unwrap();
    assert!(!sql.contains("WHERE"), "{sql}");
    // Under a join, or with a conjunct that does not map, nothing is dropped.
    let join = Statement::over_service_tables(
        &p,
        "SELECT * FROM demo.sensors a JOIN demo.sensors b USING (sensor_id) WHERE a.sensor_id < 5",
    )
    .unwrap();
    assert!(!join.is_whole_from(&join.tables[0]));
    let partly = Statement::over_service_tables(
        &p,
        "SELECT region FROM demo.sensors WHERE sensor_id < 5 AND upper(region) = 'EAST'",
    )
    .unwrap();
    assert!(!pushes_whole_where(&partly.tables[0], &schema(), &[]));
}

#[test]
fn the_sql_rpc_streams_its_view_only_when_it_is_surely_read_once() {
    let p = parser();
    for (sql, once) in [
        ("SELECT region, count(*) FROM t GROUP BY region", true),
        ("SELECT * FROM t a JOIN t b USING (sensor_id)", false),
        ("WITH x AS (SELECT * FROM t) SELECT count(*) FROM x", false),
        ("SELECT * FROM t WHERE sensor_id IN (SELECT 1)", false),
    ] {
        let (_, got) = Statement::check_over_view(&p, sql, "t").unwrap();
        assert_eq!(got, once, "{sql}");
    }
}
