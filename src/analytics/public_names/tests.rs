use arrow::datatypes::DataType;

use super::*;

fn names(command: &Command, raw: &[&str]) -> Vec<String> {
    let schema = Schema::new(
        raw.iter()
            .map(|n| Field::new(*n, DataType::Float64, true))
            .collect::<Vec<_>>(),
    );
    public_schema(command, &schema)
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect()
}

#[test]
fn outputs_get_the_response_names() {
    let percentiles = Command::Percentiles(proto::PercentilesRequest {
        group_by: vec!["region".into(), "n".into()],
        ..Default::default()
    });
    // The group column `n` takes the name first; the count keeps its internal one.
    assert_eq!(
        names(&percentiles, &["__g0", "__g1", "__n", "__q"]),
        ["region", "n", "__n", "values"]
    );
    let window = Command::WindowAggregate(proto::WindowAggregateRequest {
        value_columns: vec!["temperature".into(), "humidity".into()],
        functions: vec!["avg".into(), "P95".into()],
        ..Default::default()
    });
    assert_eq!(
        names(&window, &["__b", "__a0", "__a1", "__a2", "__a3"]),
        [
            "start_us",
            "avg_temperature",
            "p95_temperature",
            "avg_humidity",
            "p95_humidity"
        ]
    );
    let correlation = Command::Correlation(proto::CorrelationRequest {
        columns: vec!["a".into(), "b".into(), "c".into()],
        ..Default::default()
    });
    assert_eq!(
        names(&correlation, &["__r0", "__n0", "__r2", "__n2"]),
        ["r_a_b", "n_a_b", "r_b_c", "n_b_c"]
    );
    let sql = Command::Sql(proto::SqlRequest::default());
    assert_eq!(names(&sql, &["__n", "x"]), ["__n", "x"]);
}
