//! Any response message → rows of an Arrow batch, walked through its descriptor, so every
//! command prints through one printer and a new response field shows up without code here.
//!
//! The repeated message fields are the rows (a row's own repeated messages, like a histogram's
//! bins, become one row each with the parent's columns repeated: tidy data for CSV and
//! JSON). A `Group` becomes one column per `--group-by` name; timestamps print as RFC 3339;
//! maps become one column per key. The response's other scalars (the query id) are notes.

use std::{collections::HashMap, sync::Arc, sync::OnceLock};

use arrow::{
    array::{
        ArrayRef, BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray, UInt64Array,
    },
    datatypes::{Field, Schema},
};
use chrono::{DateTime, Utc};
use prost_reflect::{
    DescriptorPool, DynamicMessage, FieldDescriptor, Kind, MapKey, ReflectMessage, Value,
};

use super::failure::Failure;
use crate::proto;

/// A response as a table, plus the scalars beside its rows.
#[derive(Debug)]
pub(super) struct Rendered {
    /// One row per repeated element.
    pub(super) batch: RecordBatch,
    /// `name: value` of the response's own scalars (e.g. `query_id`).
    pub(super) notes: Vec<(String, String)>,
}

#[derive(Debug, Clone, PartialEq)]
enum Cell {
    Null,
    Bool(bool),
    Int(i64),
    UInt(u64),
    Float(f64),
    Text(String),
}

type Row = Vec<(String, Cell)>;

fn pool() -> Result<&'static DescriptorPool, Failure> {
    static POOL: OnceLock<Option<DescriptorPool>> = OnceLock::new();
    POOL.get_or_init(|| DescriptorPool::decode(proto::FILE_DESCRIPTOR_SET).ok())
        .as_ref()
        .ok_or_else(|| {
            Failure::new(
                tonic::Code::Internal,
                "the built-in proto descriptors do not decode",
            )
        })
}

/// Renders `message` (of proto type `full_name`, e.g. `vastgate.v1.TrendResponse`), naming
/// group columns after `group_by`.
pub(super) fn render<M: prost::Message>(
    message: &M,
    full_name: &str,
    group_by: &[String],
) -> Result<Rendered, Failure> {
    let internal = |what: String| Failure::new(tonic::Code::Internal, what);
    let descriptor = pool()?
        .get_message_by_name(full_name)
        .ok_or_else(|| internal(format!("no message {full_name} in the descriptors")))?;
    let dynamic = DynamicMessage::decode(descriptor, message.encode_to_vec().as_slice())
        .map_err(|e| internal(format!("{full_name} does not decode: {e}")))?;

    let mut rows: Vec<Row> = Vec::new();
    let mut notes: Row = Vec::new();
    let lists = dynamic
        .descriptor()
        .fields()
        .filter(|f| f.is_list())
        .count();
    // The columns of an empty answer: those of a row with every field at its default.
    let mut empty_columns: Row = Vec::new();
    for field in dynamic.descriptor().fields() {
        let value = dynamic.get_field(&field);
        let Value::List(items) = value.as_ref() else {
            notes.extend(field_cells(&field, &value, group_by));
            continue;
        };
        if empty_columns.is_empty() {
            empty_columns = match field.kind().as_message() {
                Some(row) => flatten(&DynamicMessage::new(row.clone()), group_by)
                    .into_iter()
                    .next()
                    .unwrap_or_default(),
                None => vec![(singular(field.name()), Cell::Null)],
            };
        }
        for item in items {
            let mut prefix: Row = Vec::new();
            if lists > 1 {
                prefix.push(("list".to_owned(), Cell::Text(field.name().to_owned())));
            }
            match item {
                Value::Message(row) => {
                    for flat in flatten(row, group_by) {
                        rows.push(prefix.iter().cloned().chain(flat).collect());
                    }
                }
                scalar => {
                    prefix.push((singular(field.name()), cell(scalar, &field.kind())));
                    rows.push(prefix);
                }
            }
        }
    }
    if lists == 0 {
        // A response without rows of its own (a count, one query) is its scalars, one row per
        // element of a list inside (a query's splits).
        notes.clear();
        rows = flatten(&dynamic, group_by);
    }
    let batch = if rows.is_empty() {
        let fields: Vec<Field> = empty_columns
            .iter()
            .map(|(name, _)| Field::new(name, arrow::datatypes::DataType::Utf8, true))
            .collect();
        RecordBatch::new_empty(Arc::new(Schema::new(fields)))
    } else {
        to_batch(&rows)?
    };
    Ok(Rendered {
        batch,
        notes: notes
            .into_iter()
            .map(|(name, value)| (name, text(&value)))
            .collect(),
    })
}

/// `schemas` → `schema`: a column of a repeated scalar names one element.
fn singular(name: &str) -> String {
    name.strip_suffix('s').unwrap_or(name).to_owned()
}

/// The rows of one message: usually one; one per element of its first repeated message field.
fn flatten(message: &DynamicMessage, group_by: &[String]) -> Vec<Row> {
    let mut base: Row = Vec::new();
    // The rows of the first repeated message field, and that field's name.
    let mut children: Option<(Vec<Row>, String)> = None;
    for field in message.descriptor().fields() {
        let value = message.get_field(&field);
        match value.as_ref() {
            Value::List(items) if items.iter().any(|v| matches!(v, Value::Message(_))) => {
                if children.is_none() {
                    let rows = items.iter().filter_map(|v| match v {
                        Value::Message(m) => Some(flatten(m, group_by)),
                        _ => None,
                    });
                    children = Some((rows.flatten().collect(), field.name().to_owned()));
                }
            }
            // A message with a list inside (one query and its splits): a row per element.
            Value::Message(inner) if children.is_none() && has_rows(inner, group_by) => {
                children = Some((flatten(inner, group_by), field.name().to_owned()));
            }
            _ => {
                for (name, cell) in field_cells(&field, &value, group_by) {
                    let taken = base.iter().any(|(n, _)| *n == name);
                    let name = if taken {
                        format!("{}.{name}", field.name())
                    } else {
                        name
                    };
                    base.push((name, cell));
                }
            }
        }
    }
    match children {
        Some((children, list)) if !children.is_empty() => children
            .into_iter()
            .map(|child| {
                // A child column named like a parent's (a split's `state`) is prefixed.
                let child = child.into_iter().map(|(name, cell)| {
                    if base.iter().any(|(n, _)| *n == name) {
                        (format!("{list}.{name}"), cell)
                    } else {
                        (name, cell)
                    }
                });
                base.iter().cloned().chain(child).collect()
            })
            .collect(),
        _ => vec![base],
    }
}

/// Whether a message field stands for several rows (a query with its splits).
fn has_rows(message: &DynamicMessage, group_by: &[String]) -> bool {
    message.descriptor().full_name() != "vastgate.v1.Group"
        && special(message).is_none()
        && flatten(message, group_by).len() > 1
}

/// The columns one field of a row contributes.
fn field_cells(field: &FieldDescriptor, value: &Value, group_by: &[String]) -> Row {
    let name = field.name().to_owned();
    match value {
        Value::Message(group) if group.descriptor().full_name() == "vastgate.v1.Group" => {
            group_columns(group, group_by)
        }
        Value::Message(inner) => match special(inner) {
            Some(cell) => vec![(name, cell)],
            None => flatten(inner, group_by)
                .into_iter()
                .next()
                .unwrap_or_default(),
        },
        Value::Map(map) => {
            let value_kind = field
                .kind()
                .as_message()
                .map_or(Kind::String, |entry| entry.map_entry_value_field().kind());
            let mut keys: Vec<&MapKey> = map.keys().collect();
            keys.sort();
            keys.into_iter()
                .filter_map(|key| map.get(key).map(|v| (map_key(key), cell(v, &value_kind))))
                .collect()
        }
        Value::List(items) => {
            let joined: Vec<String> = items
                .iter()
                .map(|v| text(&cell(v, &field.kind())))
                .collect();
            vec![(name, Cell::Text(joined.join(",")))]
        }
        scalar => vec![(name, cell(scalar, &field.kind()))],
    }
}

/// A `Group`'s values under the `--group-by` names (`group_N` past them); NULL where unset.
fn group_columns(group: &DynamicMessage, group_by: &[String]) -> Row {
    let strings = |name: &str| match group.get_field_by_name(name).as_deref() {
        Some(Value::List(items)) => items.clone(),
        _ => Vec::new(),
    };
    let values = strings("values");
    let is_null = strings("is_null");
    values
        .iter()
        .enumerate()
        .map(|(i, value)| {
            let name = group_by
                .get(i)
                .cloned()
                .unwrap_or_else(|| format!("group_{i}"));
            let null = matches!(is_null.get(i), Some(Value::Bool(true)));
            let cell = match value {
                Value::String(s) if !null => Cell::Text(s.clone()),
                _ => Cell::Null,
            };
            (name, cell)
        })
        .collect()
}

/// Timestamps and durations as one readable cell.
fn special(message: &DynamicMessage) -> Option<Cell> {
    let number = |name: &str| match message.get_field_by_name(name).as_deref() {
        Some(Value::I64(v)) => *v,
        Some(Value::I32(v)) => i64::from(*v),
        _ => 0,
    };
    match message.descriptor().full_name() {
        "google.protobuf.Timestamp" => {
            let nanos = u32::try_from(number("nanos")).unwrap_or(0);
            DateTime::<Utc>::from_timestamp(number("seconds"), nanos)
                .map(|t| Cell::Text(t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)))
        }
        "google.protobuf.Duration" => Some(Cell::Float(
            number("seconds") as f64 + number("nanos") as f64 / 1e9,
        )),
        _ => None,
    }
}

fn cell(value: &Value, kind: &Kind) -> Cell {
    match value {
        Value::Bool(v) => Cell::Bool(*v),
        Value::I32(v) => Cell::Int(i64::from(*v)),
        Value::I64(v) => Cell::Int(*v),
        Value::U32(v) => Cell::Int(i64::from(*v)),
        Value::U64(v) => Cell::UInt(*v),
        Value::F32(v) => Cell::Float(f64::from(*v)),
        Value::F64(v) => Cell::Float(*v),
        Value::String(v) => Cell::Text(v.clone()),
        Value::Bytes(v) => Cell::Text(hex::encode(v)),
        Value::EnumNumber(n) => Cell::Text(
            kind.as_enum()
                .and_then(|e| e.get_value(*n))
                .map_or_else(|| n.to_string(), |v| v.name().to_owned()),
        ),
        Value::Message(m) => special(m).unwrap_or(Cell::Text(format!("{m:?}"))),
        Value::List(_) | Value::Map(_) => Cell::Text(format!("{value:?}")),
    }
}

fn map_key(key: &MapKey) -> String {
    match key {
        MapKey::Bool(v) => v.to_string(),
        MapKey::I32(v) => v.to_string(),
        MapKey::I64(v) => v.to_string(),
        MapKey::U32(v) => v.to_string(),
        MapKey::U64(v) => v.to_string(),
        MapKey::String(v) => v.clone(),
    }
}

fn text(cell: &Cell) -> String {
    match cell {
        Cell::Null => String::new(),
        Cell::Bool(v) => v.to_string(),
        Cell::Int(v) => v.to_string(),
        Cell::UInt(v) => v.to_string(),
        Cell::Float(v) => v.to_string(),
        Cell::Text(v) => v.clone(),
    }
}

/// Rows → one batch: columns in order of first appearance, each of the narrowest type all
/// its cells fit (bool, int64, uint64, float64, else text).
fn to_batch(rows: &[Row]) -> Result<RecordBatch, Failure> {
    let mut names: Vec<String> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for row in rows {
        for (name, _) in row {
            if !index.contains_key(name) {
                index.insert(name.clone(), names.len());
                names.push(name.clone());
            }
        }
    }
    let mut columns: Vec<Vec<Cell>> = vec![vec![Cell::Null; rows.len()]; names.len()];
    for (r, row) in rows.iter().enumerate() {
        for (name, value) in row {
            if let Some(&c) = index.get(name) {
                columns[c][r] = value.clone();
            }
        }
    }
    let mut fields = Vec::with_capacity(names.len());
    let mut arrays: Vec<ArrayRef> = Vec::with_capacity(names.len());
    for (name, cells) in names.iter().zip(&columns) {
        let array = column(cells);
        fields.push(Field::new(name, array.data_type().clone(), true));
        arrays.push(array);
    }
    RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays).map_err(|e| {
        Failure::new(
            tonic::Code::Internal,
            format!("rendering the response: {e}"),
        )
    })
}

fn column(cells: &[Cell]) -> ArrayRef {
    let present = || cells.iter().filter(|c| **c != Cell::Null);
    let all = |test: fn(&Cell) -> bool| present().all(test);
    if present().next().is_none() {
        return Arc::new(StringArray::from(vec![None::<&str>; cells.len()]));
    }
    if all(|c| matches!(c, Cell::Bool(_))) {
        return Arc::new(
            cells
                .iter()
                .map(|c| match c {
                    Cell::Bool(v) => Some(*v),
                    _ => None,
                })
                .collect::<BooleanArray>(),
        );
    }
    if all(|c| matches!(c, Cell::Int(_))) {
        return Arc::new(
            cells
                .iter()
                .map(|c| match c {
                    Cell::Int(v) => Some(*v),
                    _ => None,
                })
                .collect::<Int64Array>(),
        );
    }
    if all(|c| matches!(c, Cell::UInt(_) | Cell::Int(0..))) {
        return Arc::new(
            cells
                .iter()
                .map(|c| match c {
                    Cell::UInt(v) => Some(*v),
                    Cell::Int(v) => u64::try_from(*v).ok(),
                    _ => None,
                })
                .collect::<UInt64Array>(),
        );
    }
    if all(|c| matches!(c, Cell::Int(_) | Cell::UInt(_) | Cell::Float(_))) {
        return Arc::new(
            cells
                .iter()
                .map(|c| match c {
                    Cell::Int(v) => Some(*v as f64),
                    Cell::UInt(v) => Some(*v as f64),
                    Cell::Float(v) => Some(*v),
                    _ => None,
                })
                .collect::<Float64Array>(),
        );
    }
    Arc::new(
        cells
            .iter()
            .map(|c| (*c != Cell::Null).then(|| text(c)))
            .collect::<StringArray>(),
    )
}
