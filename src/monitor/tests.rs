use std::time::Duration;

use super::*;

fn log() -> QueryLog {
    QueryLog::new(MonitorConfig {
        query_log_size: 3,
        slow_query_threshold: Duration::from_millis(20),
    })
}

#[test]
fn running_then_recent_with_bounded_ring() {
    let log = log();
    for i in 0..5 {
        let q = log.start(&format!("q{i}"), "Select");
        q.set_table("demo.sensors");
        assert_eq!(log.running_count(), 1);
        log.finish(&q, QueryState::Ok, String::new());
    }
    assert_eq!(log.running_count(), 0);
    let recent: Vec<_> = log.recent(10).into_iter().map(|r| r.query_id).collect();
    assert_eq!(recent, ["q4", "q3", "q2"], "newest first, oldest dropped");
}

#[test]
fn cancel_reaches_the_token() {
    let log = log();
    let q = log.start("abc", "Count");
    assert!(!q.cancel.is_cancelled());
    assert!(log.cancel("abc"));
    assert!(q.cancel.is_cancelled());
    assert!(!log.cancel("nope"));
}

#[test]
fn slow_queries_and_csv_export() {
    let log = log();
    let fast = log.start("fast", "Count");
    log.finish(&fast, QueryState::Ok, String::new());
    let slow = log.start("slow", "Select");
    std::thread::sleep(Duration::from_millis(30));
    log.finish(&slow, QueryState::Error, "boom, \"quoted\"".to_owned());
    let slow_ids: Vec<_> = log.slow(10, None).into_iter().map(|r| r.query_id).collect();
    assert_eq!(slow_ids, ["slow"]);
    let csv = String::from_utf8(log.export(ExportFormat::Csv)).unwrap();
    let lines: Vec<_> = csv.lines().collect();
    assert_eq!(lines.len(), 3);
    assert!(lines[2].starts_with("slow,Select,,error,"), "{}", lines[2]);
    assert!(
        lines[2].ends_with("\"boom, \"\"quoted\"\"\",anonymous"),
        "{}",
        lines[2]
    );
    let json: serde_json::Value = serde_json::from_slice(&log.export(ExportFormat::Json)).unwrap();
    assert_eq!(json[1]["state"], "error");
}

#[test]
fn a_caller_runs_at_most_its_limit_and_cancels_only_its_own() {
    let log = log();
    let first = log.try_start("a1", "Select", "ana", 2).unwrap();
    let _second = log.try_start("a2", "Count", "ana", 2).unwrap();
    assert_eq!(log.try_start("a3", "Count", "ana", 2).unwrap_err(), 2);
    // Another caller is not affected; 0 is no limit.
    let bob = log.try_start("b1", "Count", "bob", 2).unwrap();
    assert!(log.try_start("a4", "Count", "ana", 0).is_ok());
    // Finishing one makes room.
    log.finish(&first, QueryState::Ok, String::new());
    assert!(log.try_start("a5", "Count", "ana", 3).is_ok());
    // Bob cannot cancel Ana's query (it looks like no such query); Ana and an admin can.
    assert!(!log.cancel_of("a5", Some("bob")));
    assert!(log.cancel_of("a5", Some("ana")));
    assert!(log.cancel_of("b1", None));
    assert!(bob.cancel.is_cancelled());
    assert_eq!(log.recent(10)[0].caller, "ana");
}

#[test]
fn nearest_rank_percentiles() {
    let v = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0];
    assert_eq!(trends::nearest_rank(&v, 0.5), 5.0);
    assert_eq!(trends::nearest_rank(&v, 0.95), 10.0);
    assert_eq!(trends::nearest_rank(&[], 0.5), 0.0);
}
