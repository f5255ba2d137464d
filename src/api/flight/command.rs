//! Flight descriptors → commands: a path `[bucket?, schema, table]` reads the whole table; a
//! command is a `FlightCommand` as JSON (`{"select": {...}}`, `{"sql": {...}}`, …) or as
//! serialized protobuf.

use std::sync::OnceLock;

use arrow_flight::{FlightDescriptor, flight_descriptor::DescriptorType};
use prost::Message;
use prost_reflect::{DescriptorPool, DynamicMessage};

use crate::{
    error::Error,
    proto::{self, FlightCommand, flight_command::Command},
};

fn pool() -> Option<&'static DescriptorPool> {
    static POOL: OnceLock<Option<DescriptorPool>> = OnceLock::new();
    POOL.get_or_init(|| DescriptorPool::decode(proto::FILE_DESCRIPTOR_SET).ok())
        .as_ref()
}

/// The command a descriptor stands for.
pub(crate) fn from_descriptor(descriptor: &FlightDescriptor) -> Result<FlightCommand, Error> {
    match DescriptorType::try_from(descriptor.r#type) {
        Ok(DescriptorType::Path) => from_path(&descriptor.path),
        Ok(DescriptorType::Cmd) => from_bytes(&descriptor.cmd),
        _ => Err(Error::InvalidArgument(
            "flight descriptor type must be PATH ([bucket?, schema, table]) or CMD".to_owned(),
        )),
    }
}

fn from_path(path: &[String]) -> Result<FlightCommand, Error> {
    let (bucket, schema, table) = match path {
        [schema, table] => (String::new(), schema.clone(), table.clone()),
        [bucket, schema, table] => (bucket.clone(), schema.clone(), table.clone()),
        _ => {
            return Err(Error::InvalidArgument(format!(
                "flight path must be [schema, table] or [bucket, schema, table], got {path:?}"
            )));
        }
    };
    Ok(FlightCommand {
        command: Some(Command::Select(proto::SelectRequest {
            table: Some(proto::TableRef {
                bucket,
                schema,
                table,
            }),
            ..Default::default()
        })),
    })
}

fn from_bytes(cmd: &[u8]) -> Result<FlightCommand, Error> {
    let text = std::str::from_utf8(cmd).ok().map(str::trim);
    let command = match text {
        // A serialized command can be valid UTF-8 starting with `{` (field 1 of 123 bytes):
        // when the JSON does not parse, the bytes may still be one.
        Some(json) if json.starts_with('{') => match from_json(json) {
            Ok(command) => command,
            Err(json_error) => FlightCommand::decode(cmd)
                .ok()
                .filter(|command| command.command.is_some())
                .ok_or(json_error)?,
        },
        _ => FlightCommand::decode(cmd).map_err(|e| {
            Error::InvalidArgument(format!(
                "flight command is neither JSON nor a serialized vastgate.v1.FlightCommand: {e}"
            ))
        })?,
    };
    if command.command.is_none() {
        return Err(Error::InvalidArgument(
            "flight command is empty: use {\"select\": {...}}, {\"sql\": {...}} or an analytic \
             such as {\"percentiles\": {...}}"
                .to_owned(),
        ));
    }
    Ok(command)
}

fn from_json(json: &str) -> Result<FlightCommand, Error> {
    let descriptor = pool()
        .and_then(|p| p.get_message_by_name("vastgate.v1.FlightCommand"))
        .ok_or_else(|| Error::Internal("FlightCommand descriptor missing".to_owned()))?;
    let mut deserializer = serde_json::Deserializer::from_str(json);
    let message = DynamicMessage::deserialize(descriptor, &mut deserializer)
        .map_err(|e| Error::InvalidArgument(format!("flight command JSON: {e}")))?;
    FlightCommand::decode(message.encode_to_vec().as_slice())
        .map_err(|e| Error::Internal(format!("re-decoding the flight command: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_json_and_proto() {
        let path = FlightDescriptor::new_path(vec!["demo".into(), "sensors".into()]);
        let Some(Command::Select(s)) = from_descriptor(&path).unwrap().command else {
            panic!()
        };
        assert_eq!(s.table.unwrap().table, "sensors");

        let json = FlightDescriptor::new_cmd(
            r#"{"select": {"table": {"schema": "demo", "table": "sensors"}, "columns": ["ts"], "limit": "5",
               "filter": {"compare": {"column": "sensor_id", "op": "EQ", "value": {"intValue": "3"}}}}}"#,
        );
        let Some(Command::Select(s)) = from_descriptor(&json).unwrap().command else {
            panic!()
        };
        assert_eq!((s.columns, s.limit), (vec!["ts".to_owned()], 5));
        assert!(s.filter.is_some());

        let sql = FlightCommand {
            command: Some(Command::Sql(proto::SqlRequest {
                sql: "SELECT 1".into(),
                ..Default::default()
            })),
        };
        let bytes = FlightDescriptor::new_cmd(sql.encode_to_vec());
        assert_eq!(from_descriptor(&bytes).unwrap(), sql);

        for bad in [r#"{"selectt": {}}"#, "{}", r#"{"select": {"limit": "x"}}"#] {
            let err = from_descriptor(&FlightDescriptor::new_cmd(bad.to_owned())).unwrap_err();
            assert!(matches!(err, Error::InvalidArgument(_)), "{bad}: {err}");
        }
        assert!(from_descriptor(&FlightDescriptor::new_path(vec!["x".into()])).is_err());
    }
}
