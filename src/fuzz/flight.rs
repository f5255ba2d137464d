//! Target `flight`: Flight tickets and command descriptors.
//! `api::flight::ticket::TicketSigner::verify` gets noise, mutated genuine tickets, and bodies
//! (encoded or noise) signed with the test key, so body decoding, expiry and caller checks run;
//! `api::flight::command::from_descriptor` gets noise, JSON-ish text, encoded and mutated
//! `FlightCommand`s, any descriptor type and any path.
//!
//! Invariants: only an untouched genuine ticket verifies; an expired ticket reports its true
//! age; a serialized command and its JSON form come back as they were; a two- or three-part
//! path is a Select of that table; nothing is an internal error.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use arrow_flight::FlightDescriptor;
use proptest::prelude::*;
use prost::Message;
use prost_reflect::{DescriptorPool, DynamicMessage};

use super::{config, corpus, strategies, write_seed};
use crate::{
    api::flight::{
        command::from_descriptor,
        ticket::{TicketError, TicketSigner},
    },
    error::Error,
    proto::{self, FlightCommand, FlightTicketBody, flight_command::Command},
    vast_protocol::sigv4::hmac_sha256,
};

const TARGET: &str = "flight";
const REGRESSIONS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fuzz/regressions/flight.txt");
const KEY: &str = "fuzz-ticket-key";
const CALLER: &str = "fuzz-caller";

fn signer() -> TicketSigner {
    TicketSigner::new(KEY, Duration::from_secs(300))
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

fn table() -> impl Strategy<Value = Option<proto::TableRef>> {
    prop::option::of(("[a-z]{0,8}", "[ -~]{0,64}", "[ -~]{0,64}").prop_map(
        |(bucket, schema, table)| proto::TableRef {
            bucket,
            schema,
            table,
        },
    ))
}

/// Sql and TopN commands: no floats, so their JSON form converts back exactly.
fn plain_command() -> impl Strategy<Value = FlightCommand> {
    let request = prop_oneof![
        (
            table(),
            any::<String>(),
            prop::collection::vec(strategies::column(), 0..3),
            any::<u64>()
        )
            .prop_map(|(table, sql, columns, limit)| {
                Command::Sql(proto::SqlRequest {
                    table,
                    sql,
                    columns,
                    limit,
                    ..Default::default()
                })
            }),
        (
            table(),
            strategies::column(),
            "[a-z]{0,5}",
            any::<u32>(),
            any::<bool>()
        )
            .prop_map(|(table, value_column, function, n, ascending)| {
                Command::TopN(proto::TopNRequest {
                    table,
                    value_column,
                    function,
                    n,
                    ascending,
                    ..Default::default()
                })
            }),
    ];
    request.prop_map(|c| FlightCommand { command: Some(c) })
}

/// Any command (or none): Select with filters, Percentiles with hostile quantiles, ASCII-only
/// Selects of 100 to 140 bytes (binary commands that are valid UTF-8), and the plain ones.
fn command() -> impl Strategy<Value = FlightCommand> {
    let select = (
        table(),
        prop::collection::vec(strategies::column(), 0..4),
        prop::option::of(strategies::filter()),
        prop_oneof![Just(0u64), any::<u64>()],
    )
        .prop_map(|(table, columns, filter, limit)| proto::SelectRequest {
            table,
            columns,
            filter,
            limit,
            ..Default::default()
        });
    let ascii_select = ("[a-z]{45,70}", "[a-z]{45,70}").prop_map(|(schema, table)| {
        let table = Some(proto::TableRef {
            schema,
            table,
            ..Default::default()
        });
        proto::SelectRequest {
            table,
            ..Default::default()
        }
    });
    let percentiles = (
        table(),
        strategies::column(),
        prop::collection::vec(strategies::float(), 0..4),
    )
        .prop_map(|(table, value_column, quantiles)| {
            Command::Percentiles(proto::PercentilesRequest {
                table,
                value_column,
                quantiles,
                ..Default::default()
            })
        });
    prop_oneof![
        1 => Just(FlightCommand { command: None }),
        4 => select.prop_map(|s| FlightCommand { command: Some(Command::Select(s)) }),
        2 => ascii_select.prop_map(|s| FlightCommand { command: Some(Command::Select(s)) }),
        2 => percentiles.prop_map(|c| FlightCommand { command: Some(c) }),
        2 => plain_command(),
    ]
}

fn json_ish() -> impl Strategy<Value = String> {
    let pieces = vec![
        "{",
        "}",
        "[",
        "]",
        ":",
        ",",
        " ",
        "\"select\"",
        "\"sql\"",
        "\"percentiles\"",
        "\"table\"",
        "\"filter\"",
        "\"not\"",
        "\"and\"",
        "\"filters\"",
        "\"compare\"",
        "\"op\"",
        "\"EQ\"",
        "\"intValue\"",
        "\"timestampValue\"",
        "\"1970-01-01T00:00:00Z\"",
        "\"limit\"",
        "\"-1\"",
        "\"1e400\"",
        "\"NaN\"",
        "null",
        "true",
        "-0",
        "18446744073709551616",
        "\"\\u0000\"",
        "\"\\ud800\"",
        "\"quantiles\"",
        "\"@type\"",
    ];
    prop::collection::vec(prop::sample::select(pieces), 0..40)
        .prop_map(|p| format!("{{{}", p.concat()))
}

/// Command bytes: noise, JSON-ish text, or an encoded command mutated.
fn cmd_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..200),
        json_ish().prop_map(String::into_bytes),
        (command(), strategies::mutations()).prop_map(|(c, edits)| {
            let mut bytes = c.encode_to_vec();
            strategies::mutate(&mut bytes, &edits);
            bytes
        }),
    ]
}

fn ticket_body() -> impl Strategy<Value = FlightTicketBody> {
    let now = now();
    let expires = prop_oneof![
        any::<i64>(),
        Just(i64::MIN),
        Just(i64::MAX),
        Just(0i64),
        now - 100..now + 100
    ];
    let caller = prop_oneof![3 => Just(CALLER.to_owned()), 1 => any::<String>()];
    (
        prop::option::of(command()),
        any::<u32>(),
        any::<u32>(),
        expires,
        caller,
    )
        .prop_map(
            |(command, split, num_splits, expires_unix, caller)| FlightTicketBody {
                command,
                split,
                num_splits,
                expires_unix,
                caller,
            },
        )
}

/// `body` signed with the test key: never tampered; expiry and caller as the body says.
fn check_signed(body: &[u8]) -> Result<(), TestCaseError> {
    let mut ticket = body.to_vec();
    ticket.extend_from_slice(&hmac_sha256(KEY.as_bytes(), body));
    let before = now();
    let verdict = signer().verify(&ticket, CALLER);
    let after = now();
    match verdict {
        Ok(redeemed) => {
            prop_assert_eq!(redeemed.caller.as_str(), CALLER);
            prop_assert!(redeemed.expires_unix >= before);
        }
        Err(TicketError::Expired(age)) => {
            let expires = FlightTicketBody::decode(body).map_or(0, |b| b.expires_unix);
            let low = i128::from(before) - i128::from(expires);
            let high = i128::from(after) - i128::from(expires);
            let age = i128::from(age);
            prop_assert!(
                (low..=high).contains(&age),
                "expired {low} s ago, reported as {age}"
            );
        }
        Err(TicketError::Tampered) => {
            return Err(TestCaseError::fail(
                "a correctly signed ticket was called tampered",
            ));
        }
        Err(TicketError::Malformed(_) | TicketError::OtherCaller) => {}
    }
    Ok(())
}

fn check_descriptor(descriptor: &FlightDescriptor) -> Result<(), TestCaseError> {
    match from_descriptor(descriptor) {
        Ok(command) => prop_assert!(command.command.is_some(), "an empty command was accepted"),
        Err(Error::Internal(message)) => {
            return Err(TestCaseError::fail(format!("internal error: {message}")));
        }
        Err(_) => {}
    }
    Ok(())
}

/// `bytes` (a serialized command) come back from a CMD descriptor exactly.
fn check_round_trip(bytes: &[u8]) -> Result<(), TestCaseError> {
    let got = from_descriptor(&FlightDescriptor::new_cmd(bytes.to_vec()));
    prop_assert!(
        matches!(&got, Ok(c) if c.encode_to_vec() == bytes),
        "a serialized command did not come back: {got:?}"
    );
    Ok(())
}

proptest! {
    #![proptest_config(config(REGRESSIONS))]

    #[test]
    fn ticket_noise(bytes in prop::collection::vec(any::<u8>(), 0..160)) {
        prop_assert_eq!(signer().verify(&bytes, CALLER), Err(TicketError::Tampered));
    }

    #[test]
    fn ticket_mutated(cmd in command(), split in any::<u32>(), edits in strategies::mutations()) {
        let signer = signer();
        let ticket = signer.sign(&cmd, split, split.saturating_add(1), CALLER);
        let mut altered = ticket.clone();
        strategies::mutate(&mut altered, &edits);
        let verdict = signer.verify(&altered, CALLER);
        if altered == ticket {
            prop_assert!(verdict.is_ok(), "a genuine ticket was refused: {verdict:?}");
        } else {
            prop_assert_eq!(verdict, Err(TicketError::Tampered));
        }
    }

    #[test]
    fn ticket_signed_bodies(body in ticket_body()) {
        check_signed(&body.encode_to_vec())?;
    }

    #[test]
    fn ticket_signed_noise(body in prop::collection::vec(any::<u8>(), 0..160)) {
        check_signed(&body)?;
    }

    #[test]
    fn descriptors(
        cmd in cmd_bytes(),
        kind in prop_oneof![0i32..3, any::<i32>()],
        path in prop::collection::vec(any::<String>(), 0..5),
    ) {
        check_descriptor(&FlightDescriptor { r#type: kind, cmd: cmd.into(), path })?;
    }

    #[test]
    fn serialized_commands_round_trip(cmd in command()) {
        let bytes = cmd.encode_to_vec();
        if cmd.command.is_some() {
            check_round_trip(&bytes)?;
        } else {
            prop_assert!(from_descriptor(&FlightDescriptor::new_cmd(bytes)).is_err());
        }
    }

    #[test]
    fn json_commands_round_trip(cmd in plain_command()) {
        let pool = DescriptorPool::decode(proto::FILE_DESCRIPTOR_SET).unwrap();
        let descriptor = pool.get_message_by_name("vastgate.v1.FlightCommand").unwrap();
        let message = DynamicMessage::decode(descriptor, cmd.encode_to_vec().as_slice()).unwrap();
        let json = serde_json::to_string(&message).unwrap();
        let got = from_descriptor(&FlightDescriptor::new_cmd(json.clone()));
        prop_assert!(matches!(&got, Ok(c) if *c == cmd), "{json} came back as {got:?}");
    }

    #[test]
    fn paths(path in prop::collection::vec(prop_oneof!["[a-z]{0,6}", any::<String>()], 0..5)) {
        let got = from_descriptor(&FlightDescriptor::new_path(path.clone()));
        match (&path[..], got) {
            ([.., schema, table], Ok(c)) if (2..=3).contains(&path.len()) => {
                let Some(Command::Select(select)) = c.command else {
                    return Err(TestCaseError::fail("a path is not a Select"));
                };
                let t = select.table.unwrap_or_default();
                prop_assert_eq!((&t.schema, &t.table), (schema, table));
            }
            (_, got) => prop_assert!(got.is_ok() == (2..=3).contains(&path.len())),
        }
    }
}

#[test]
fn replay_corpus() {
    for (path, bytes) in corpus(TARGET) {
        let checked = check_descriptor(&FlightDescriptor::new_cmd(bytes.clone()))
            .and_then(|()| match FlightCommand::decode(bytes.as_slice()) {
                Ok(c) if c.command.is_some() && c.encode_to_vec() == bytes => {
                    check_round_trip(&bytes)
                }
                _ => Ok(()),
            })
            .and_then(|()| check_signed(&bytes));
        if let Err(e) = checked {
            panic!("{}: {e}", path.display());
        }
        let _ = signer().verify(&bytes, CALLER); // must not panic
    }
}

#[test]
#[ignore = "writes fuzz/corpus/flight/; run by hand when the seeds should change"]
fn write_seed_corpus() {
    let select = |schema: &str, table: &str| FlightCommand {
        command: Some(Command::Select(proto::SelectRequest {
            table: Some(proto::TableRef {
                schema: schema.to_owned(),
                table: table.to_owned(),
                ..Default::default()
            }),
            ..Default::default()
        })),
    };
    let sensors = select("demo", "sensors");
    write_seed(TARGET, "select.pb", &sensors.encode_to_vec());
    // 123 bytes of ASCII: `\n{…`, a serialized command that trims to something like JSON.
    let ascii = select("a".repeat(60).as_str(), "b".repeat(57).as_str());
    write_seed(TARGET, "select_ascii_123.pb", &ascii.encode_to_vec());
    write_seed(TARGET, "ticket.bin", &signer().sign(&sensors, 0, 4, CALLER));
}
