//! Merging state rows: by group in the order the analytics order their results (group
//! values ascending, NULLs first), and back into the text batches the analytics decode.

use std::{collections::BTreeMap, sync::Arc};

use arrow::{
    array::{Array, ArrayRef, AsArray, Int64Array, RecordBatch, StringArray, UInt32Array},
    compute::{SortOptions, concat_batches, take_record_batch},
    datatypes::{DataType, Field, Int64Type, Schema},
    row::{RowConverter, SortField},
};

use crate::analytics::{AnalyticsError, decode::Rows};

fn internal(message: impl std::fmt::Display) -> AnalyticsError {
    AnalyticsError::Internal(format!("merging partial states: {message}"))
}

/// The order of the analytics' results: ascending, NULLs first.
const GROUP_ORDER: SortOptions = SortOptions {
    descending: false,
    nulls_first: true,
};

/// The state rows of all `batches` as one batch (none when there are no rows).
pub(crate) fn concat(batches: &[RecordBatch]) -> Result<Option<RecordBatch>, AnalyticsError> {
    let Some(first) = batches.iter().find(|b| b.num_rows() > 0) else {
        return Ok(None);
    };
    concat_batches(&first.schema(), batches.iter().filter(|b| b.num_rows() > 0))
        .map(Some)
        .map_err(internal)
}

/// The bucket numbers `__k` of a state batch.
pub(crate) fn bucket_numbers(batch: &RecordBatch) -> Result<Int64Array, AnalyticsError> {
    let column = batch
        .column_by_name("__k")
        .ok_or_else(|| internal("no __k column"))?;
    column
        .as_primitive_opt::<Int64Type>()
        .cloned()
        .ok_or_else(|| internal("__k is not BIGINT"))
}

/// The sort key of each row's group values `__r0..__r{groups}`.
pub(crate) struct GroupKeys {
    converter: Option<RowConverter>,
    groups: usize,
}

impl GroupKeys {
    pub(crate) fn new(batch: &RecordBatch, groups: usize) -> Result<Self, AnalyticsError> {
        if groups == 0 {
            return Ok(Self {
                converter: None,
                groups,
            });
        }
        let fields = (0..groups)
            .map(|i| {
                let column = raw(batch, i)?;
                Ok(SortField::new_with_options(
                    column.data_type().clone(),
                    GROUP_ORDER,
                ))
            })
            .collect::<Result<Vec<_>, AnalyticsError>>()?;
        let converter = RowConverter::new(fields).map_err(internal)?;
        Ok(Self {
            converter: Some(converter),
            groups,
        })
    }

    /// The keys of every row of `batch`: bytes that sort as the groups do.
    pub(crate) fn of(&self, batch: &RecordBatch) -> Result<Vec<Vec<u8>>, AnalyticsError> {
        let Some(converter) = &self.converter else {
            return Ok(vec![Vec::new(); batch.num_rows()]);
        };
        let columns = (0..self.groups)
            .map(|i| raw(batch, i).cloned())
            .collect::<Result<Vec<_>, _>>()?;
        let rows = converter.convert_columns(&columns).map_err(internal)?;
        Ok(rows.iter().map(|r| r.as_ref().to_vec()).collect())
    }
}

fn raw(batch: &RecordBatch, i: usize) -> Result<&ArrayRef, AnalyticsError> {
    batch
        .column_by_name(&format!("__r{i}"))
        .ok_or_else(|| internal(format!("no __r{i} column")))
}

/// All state rows in one batch ordered by group (result order), then by the BIGINT column
/// `then`: for states that need no merging, only their rows side by side.
pub(crate) fn sorted_by_group(
    states: &[RecordBatch],
    groups: usize,
    then: &str,
) -> Result<Option<RecordBatch>, AnalyticsError> {
    let Some(all) = concat(states)? else {
        return Ok(None);
    };
    let keys = GroupKeys::new(&all, groups)?.of(&all)?;
    let second = all
        .column_by_name(then)
        .and_then(|c| c.as_primitive_opt::<Int64Type>().cloned())
        .ok_or_else(|| internal(format!("no BIGINT column {then}")))?;
    let mut order: Vec<u32> = (0..all.num_rows() as u32).collect();
    order.sort_by(|&a, &b| {
        let (a, b) = (a as usize, b as usize);
        keys[a]
            .cmp(&keys[b])
            .then(second.value(a).cmp(&second.value(b)))
    });
    take_record_batch(&all, &UInt32Array::from(order))
        .map(Some)
        .map_err(internal)
}

/// One group's text values and its merged state.
pub(crate) struct Merged<A> {
    pub(crate) text: Vec<Option<String>>,
    pub(crate) state: A,
}

/// Folds every state row into its group's accumulator; the groups come out in result order.
/// `columns` downcasts the state columns once (all states are concatenated first), `fold`
/// reads a row of them. Without group columns there is one group even over no rows, as a
/// one-pass aggregate answers one row.
pub(crate) fn by_group<A: Default, C>(
    batches: &[RecordBatch],
    groups: usize,
    columns: impl FnOnce(&Rows<'_>) -> Result<C, AnalyticsError>,
    mut fold: impl FnMut(&mut A, &C, usize) -> Result<(), AnalyticsError>,
) -> Result<Vec<Merged<A>>, AnalyticsError> {
    let mut merged: BTreeMap<Vec<u8>, Merged<A>> = BTreeMap::new();
    if let Some(all) = concat(batches)? {
        let rows = Rows::new(&all, groups)?;
        let columns = columns(&rows)?;
        for (row, key) in GroupKeys::new(&all, groups)?
            .of(&all)?
            .into_iter()
            .enumerate()
        {
            let entry = merged.entry(key).or_insert_with(|| {
                let group = rows.group(row);
                let text = group.values.into_iter().zip(group.is_null);
                Merged {
                    text: text.map(|(v, null)| (!null).then_some(v)).collect(),
                    state: A::default(),
                }
            });
            fold(&mut entry.state, &columns, row)?;
        }
    }
    if groups == 0 && merged.is_empty() {
        merged.insert(
            Vec::new(),
            Merged {
                text: Vec::new(),
                state: A::default(),
            },
        );
    }
    Ok(merged.into_values().collect())
}

/// A result batch as the analytics' decoders read it: the group text columns `__g0..`
/// then `columns`.
pub(crate) fn text_batch(
    groups: usize,
    texts: &[&[Option<String>]],
    columns: Vec<(&str, ArrayRef)>,
) -> Result<RecordBatch, AnalyticsError> {
    let mut fields = Vec::new();
    let mut arrays: Vec<ArrayRef> = Vec::new();
    for i in 0..groups {
        fields.push(Field::new(format!("__g{i}"), DataType::Utf8, true));
        let values: StringArray = texts.iter().map(|t| t.get(i).cloned().flatten()).collect();
        arrays.push(Arc::new(values));
    }
    for (name, array) in columns {
        fields.push(Field::new(name, array.data_type().clone(), true));
        arrays.push(array);
    }
    RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays).map_err(internal)
}
