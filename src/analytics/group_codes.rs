//! String group columns as integer codes on their way into DuckDB, and back to strings in the
//! result.
//!
//! DuckDB hashes and compares the strings of an Arrow stream row by row: the Arrow scan hands
//! even dictionary arrays over as plain string vectors, whereas its own Parquet reader gives
//! the aggregate a dictionary it hashes once per entry. Grouping and joining by a 4-byte code
//! instead is what lets a grouped analytic keep up with DuckDB on Parquet (`benches/RESULTS.md`),
//! and a 1-byte code ([`CodeWidth::U8`], while a column has at most 256 values) lets it group
//! by array index. The 257th value fails the batch with [`TooManyGroupValues`]: the typed RPC
//! runs again with the column coded in 32 bits and remembers it
//! (`coding_lessons`).
//!
//! An analytic allows codes ([`AnalyticPlan::codable_groups`](super::AnalyticPlan)) when its
//! SQL only groups, partitions, joins and orders by the group columns, returns them as the text
//! columns `__g0..` in `group_by` order, and orders its result by them first. The codes are
//! numbered in order of arrival, so the result comes back ordered by code: [`GroupCodes::decode`]
//! turns the codes back into the strings and moves each group's block of rows to its place in
//! the string order (NULL first, as the SQL's `NULLS FIRST`), keeping the order inside a block.

mod dictionary;

use std::sync::{Arc, Mutex, PoisonError};

use arrow::{
    array::{Array, ArrayRef, AsArray, RecordBatch, StringArray, UInt64Array},
    compute::{concat_batches, take_record_batch},
    datatypes::{DataType, Field, Schema, SchemaRef},
    error::ArrowError,
};

use self::dictionary::Dictionary;
use super::AnalyticsError;

/// The data types whose columns can be coded: strings, also behind an Arrow dictionary.
pub(crate) fn is_codable(data_type: &DataType) -> bool {
    match data_type {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => true,
        DataType::Dictionary(_, values) => is_codable(values),
        _ => false,
    }
}

/// An entry of a kept dictionary that no row has used yet.
const UNCODED: u32 = u32::MAX;

/// The type of one column's codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeWidth {
    /// `UInt8`, for up to 256 values (NULL aside): DuckDB groups an 8-bit column by array
    /// index (its perfect-hash aggregate) instead of hashing.
    U8,
    /// `UInt32`.
    U32,
}

impl CodeWidth {
    fn data_type(self) -> DataType {
        match self {
            Self::U8 => DataType::UInt8,
            Self::U32 => DataType::UInt32,
        }
    }

    /// How many distinct values the codes tell apart.
    fn values(self) -> usize {
        match self {
            Self::U8 => usize::from(u8::MAX) + 1,
            Self::U32 => UNCODED as usize,
        }
    }
}

/// A group column met more distinct values than its codes tell apart.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("group column `{column}` has more than {values} distinct values")]
pub struct TooManyGroupValues {
    /// The column.
    pub column: String,
    /// How many its codes tell apart.
    pub values: usize,
}

/// Why a batch could not be coded.
#[derive(Debug, thiserror::Error)]
pub enum CodingError {
    /// More distinct values than the codes hold: a [`CodeWidth::U8`] column runs again
    /// with 32-bit codes.
    #[error(transparent)]
    TooManyValues(#[from] TooManyGroupValues),
    /// The batch itself was not as expected.
    #[error(transparent)]
    Arrow(#[from] ArrowError),
}

/// Codes for the group columns of one request: [`encode`](Self::encode) each input batch,
/// then [`decode`](Self::decode) the query's result. Cheap to clone (shared dictionaries).
#[derive(Clone)]
pub struct GroupCodes {
    /// Input column index of each coded group column, in `group_by` order.
    columns: Arc<[usize]>,
    dictionaries: Arc<Mutex<Vec<Dictionary>>>,
    /// The input schema with the coded columns as UInt8 or UInt32.
    schema: SchemaRef,
}

impl std::fmt::Debug for GroupCodes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupCodes")
            .field("columns", &self.columns)
            .finish_non_exhaustive()
    }
}

impl GroupCodes {
    /// Codes for `group_by` (every one a string column of `input`), each as wide as `width`
    /// says, or `None` when there is nothing to code.
    pub fn new(
        input: &Schema,
        group_by: &[String],
        width: impl Fn(&str) -> CodeWidth,
    ) -> Result<Option<Self>, AnalyticsError> {
        if group_by.is_empty() {
            return Ok(None);
        }
        let columns = group_by
            .iter()
            .map(|name| {
                let index = input.index_of(name).map_err(|_| {
                    AnalyticsError::Internal(format!("group column `{name}` is not scanned"))
                })?;
                if is_codable(input.field(index).data_type()) {
                    Ok(index)
                } else {
                    Err(AnalyticsError::Internal(format!(
                        "group column `{name}` is not a string column"
                    )))
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        let dictionaries: Vec<Dictionary> = group_by
            .iter()
            .map(|name| Dictionary::new(name, width(name)))
            .collect();
        let mut fields = input.fields().to_vec();
        for (&index, dictionary) in columns.iter().zip(&dictionaries) {
            let field = &input.fields()[index];
            fields[index] = Arc::new(Field::new(
                field.name(),
                dictionary.width.data_type(),
                field.is_nullable(),
            ));
        }
        Ok(Some(Self {
            dictionaries: Arc::new(Mutex::new(dictionaries)),
            columns: columns.into(),
            schema: Arc::new(Schema::new_with_metadata(fields, input.metadata().clone())),
        }))
    }

    /// The coded columns whose codes are [`CodeWidth::U8`].
    pub fn u8_columns(&self) -> Vec<String> {
        let dictionaries = self
            .dictionaries
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        dictionaries
            .iter()
            .filter(|d| d.width == CodeWidth::U8)
            .map(|d| d.column.clone())
            .collect()
    }

    /// The schema of the coded input.
    pub fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    /// One input batch with its group columns coded.
    pub fn encode(&self, batch: RecordBatch) -> Result<RecordBatch, CodingError> {
        let mut dictionaries = self
            .dictionaries
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let mut columns = batch.columns().to_vec();
        for (dictionary, &index) in dictionaries.iter_mut().zip(self.columns.iter()) {
            columns[index] = dictionary.encode_array(batch.column(index))?;
        }
        Ok(RecordBatch::try_new(Arc::clone(&self.schema), columns)?)
    }

    /// The query's result with the group codes in `__g0..` turned back into strings and the
    /// groups in string order.
    pub fn decode(&self, batches: Vec<RecordBatch>) -> Result<Vec<RecordBatch>, AnalyticsError> {
        let internal = |e: ArrowError| AnalyticsError::Internal(format!("group codes: {e}"));
        let Some(first) = batches.first() else {
            return Ok(batches);
        };
        let batch = concat_batches(&first.schema(), &batches).map_err(internal)?;
        let dictionaries = self
            .dictionaries
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let mut codes = Vec::with_capacity(dictionaries.len());
        let mut columns = batch.columns().to_vec();
        for (i, dictionary) in dictionaries.iter().enumerate() {
            let name = format!("__g{i}");
            let index = batch.schema().index_of(&name).map_err(internal)?;
            let column = parse_codes(batch.column(index), &name)?;
            let strings = column
                .iter()
                .map(|&code| match code {
                    None => Ok(None),
                    Some(code) => dictionary.value(code).map(Some).ok_or_else(|| {
                        AnalyticsError::Internal(format!("{name}: unknown group code {code}"))
                    }),
                })
                .collect::<Result<StringArray, _>>()?;
            columns[index] = Arc::new(strings);
            codes.push(column);
        }
        let batch = RecordBatch::try_new(batch.schema(), columns).map_err(internal)?;

        // The blocks of rows of one group, in the result's (code) order.
        let same_group = |a: usize, b: usize| codes.iter().all(|c| c[a] == c[b]);
        let mut blocks: Vec<(usize, usize)> = Vec::new();
        for row in 0..batch.num_rows() {
            match blocks.last_mut() {
                Some((start, end)) if same_group(*start, row) => *end = row + 1,
                _ => blocks.push((row, row + 1)),
            }
        }
        let text = |row: usize| -> Vec<Option<&str>> {
            codes
                .iter()
                .zip(dictionaries.iter())
                .map(|(c, d)| c[row].and_then(|code| d.value(code)))
                .collect()
        };
        // `None < Some`: NULL groups first. The sort is stable: blocks of the same group (if a
        // query's order ever split one) keep their order.
        if blocks.is_sorted_by_key(|&(start, _)| text(start)) {
            return Ok(vec![batch]);
        }
        blocks.sort_by_cached_key(|&(start, _)| text(start));
        let order: UInt64Array = blocks
            .iter()
            .flat_map(|&(start, end)| start..end)
            .map(|row| row as u64)
            .collect();
        let sorted = take_record_batch(&batch, &order).map_err(internal)?;
        Ok(vec![sorted])
    }
}

#[cfg(test)]
impl GroupCodes {
    /// The same codes with the values of `batches` numbered in reverse string order first, so
    /// that a result in code order is never already in string order.
    pub(crate) fn numbered_against_string_order(self, batches: &[RecordBatch]) -> Self {
        {
            let mut dictionaries = self.dictionaries.lock().expect("lock");
            for dictionary in dictionaries.iter_mut() {
                let values = super::testing::distinct_strings(batches, &dictionary.column);
                for value in values.iter().rev() {
                    dictionary.code(value).expect("code");
                }
            }
        }
        self
    }
}

/// A `__g` column of the result: the codes as text (the SQL casts group values to VARCHAR).
fn parse_codes(column: &ArrayRef, name: &str) -> Result<Vec<Option<u32>>, AnalyticsError> {
    let Some(text) = column.as_string_opt::<i32>() else {
        return Err(AnalyticsError::Internal(format!(
            "{name} has type {}, expected text",
            column.data_type()
        )));
    };
    text.iter()
        .map(|value| {
            value
                .map(|v| {
                    v.parse::<u32>().map_err(|_| {
                        AnalyticsError::Internal(format!("{name}: `{v}` is not a group code"))
                    })
                })
                .transpose()
        })
        .collect()
}

#[cfg(test)]
mod tests;
