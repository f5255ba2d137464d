//! String group columns as integer codes on their way into DuckDB, and back to strings in the
//! result.
//!
//! DuckDB hashes and compares the strings of an Arrow stream row by row: the Arrow scan hands
//! even dictionary arrays over as plain string vectors, whereas its own Parquet reader gives
//! the aggregate a dictionary it hashes once per entry. Grouping and joining by a 4-byte code
//! instead is what lets a grouped analytic keep up with DuckDB on Parquet (histogram of 10M
//! rows by a string group in DuckDB alone: 0.43 → 0.25 s; `benches/RESULTS.md`), and a 1-byte
//! code ([`CodeWidth::Narrow`], while a column has at most 256 values) lets it group by array
//! index. The 257th value fails the batch with [`TooManyGroupValues`]: the typed RPC runs
//! again with the column coded wide and remembers it ([`CodingLessons`]).
//!
//! An analytic allows codes ([`AnalyticPlan::codable_groups`](super::AnalyticPlan)) when its
//! SQL only groups, partitions, joins and orders by the group columns, returns them as the text
//! columns `__g0..` in `group_by` order, and orders its result by them first. The codes are
//! numbered in order of arrival, so the result comes back ordered by code: [`GroupCodes::decode`]
//! turns the codes back into the strings and moves each group's block of rows to its place in
//! the string order (NULL first, as the SQL's `NULLS FIRST`), keeping the order inside a block.

use std::{
    hash::BuildHasher,
    sync::{Arc, Mutex, PoisonError},
};

use arrow::{
    array::{
        Array, ArrayRef, AsArray, PrimitiveArray, RecordBatch, StringArray, UInt8Array,
        UInt32Array, UInt64Array, downcast_dictionary_array,
    },
    compute::{concat_batches, take_record_batch},
    datatypes::{ArrowDictionaryKeyType, ArrowNativeType, DataType, Field, Schema, SchemaRef},
    error::ArrowError,
};
use hashbrown::{DefaultHashBuilder, HashTable};

use super::AnalyticsError;
use crate::backend::TableRef;

/// The data types whose columns can be coded: strings, also behind an Arrow dictionary.
pub(crate) fn is_codable(data_type: &DataType) -> bool {
    match data_type {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => true,
        DataType::Dictionary(_, values) => is_codable(values),
        _ => false,
    }
}

/// Arrow dictionaries kept with the codes of their entries: one per split the executor
/// interleaves, with room to spare.
const RECENT_DICTIONARIES: usize = 16;
/// An entry of a kept dictionary that no row has used yet.
const UNCODED: u32 = u32::MAX;

/// The type of one column's codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeWidth {
    /// `UInt8`, for up to 256 values (NULL aside): DuckDB groups an 8-bit column by array
    /// index (its perfect-hash aggregate) instead of hashing. Histogram of 10M rows by region
    /// in DuckDB alone: 0.229 → 0.216 s; TopN by region: 34 → 17 ms.
    Narrow,
    /// `UInt32`.
    Wide,
}

impl CodeWidth {
    fn data_type(self) -> DataType {
        match self {
            Self::Narrow => DataType::UInt8,
            Self::Wide => DataType::UInt32,
        }
    }

    /// How many distinct values the codes tell apart.
    fn values(self) -> usize {
        match self {
            Self::Narrow => usize::from(u8::MAX) + 1,
            Self::Wide => UNCODED as usize,
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
    /// More distinct values than the codes hold: a [`CodeWidth::Narrow`] column runs again
    /// wide.
    #[error(transparent)]
    TooManyValues(#[from] TooManyGroupValues),
    /// The batch itself was not as expected.
    #[error(transparent)]
    Arrow(#[from] ArrowError),
}

/// The distinct values of one coded column, numbered in order of arrival.
struct Dictionary {
    column: String,
    width: CodeWidth,
    /// Codes, found by the hash of their value (the value itself lives in `values`).
    codes: HashTable<u32>,
    values: Vec<Box<str>>,
    hasher: DefaultHashBuilder,
    /// Arrow dictionaries seen last, most recent at the end: the batches of one Parquet column
    /// chunk share their dictionary, so each entry is coded once per chunk.
    recent: Vec<SeenDictionary>,
}

/// An Arrow dictionary and the codes of the entries rows have used so far (`UNCODED` for the
/// others): coding only those keeps a large dictionary, of which a batch uses a few entries,
/// from costing more than the rows.
struct SeenDictionary {
    /// The dictionary as received, to recognise it again (the `Arc` keeps its address).
    entries: ArrayRef,
    strings: StringArray,
    codes: Vec<u32>,
}

impl Dictionary {
    fn new(column: &str, width: CodeWidth) -> Self {
        Self {
            column: column.to_owned(),
            width,
            codes: HashTable::new(),
            values: Vec::new(),
            hasher: DefaultHashBuilder::default(),
            recent: Vec::new(),
        }
    }

    fn code(&mut self, value: &str) -> Result<u32, TooManyGroupValues> {
        let hash = self.hasher.hash_one(value);
        let values = &self.values;
        if let Some(&code) = self.codes.find(hash, |&c| &*values[c as usize] == value) {
            return Ok(code);
        }
        let code = u32::try_from(self.values.len())
            .ok()
            .filter(|&code| (code as usize) < self.width.values())
            .ok_or_else(|| TooManyGroupValues {
                column: self.column.clone(),
                values: self.width.values(),
            })?;
        self.values.push(value.into());
        let (values, hasher) = (&self.values, &self.hasher);
        self.codes
            .insert_unique(hash, code, |&c| hasher.hash_one(&*values[c as usize]));
        Ok(code)
    }

    fn encode<'a>(
        &mut self,
        values: impl Iterator<Item = Option<&'a str>>,
        len: usize,
    ) -> Result<Vec<u32>, TooManyGroupValues> {
        let mut codes = Vec::with_capacity(len);
        for value in values {
            codes.push(match value {
                Some(v) => self.code(v)?,
                None => 0,
            });
        }
        Ok(codes)
    }

    fn encode_array(&mut self, array: &dyn Array) -> Result<ArrayRef, CodingError> {
        let (len, nulls) = (array.len(), array.logical_nulls());
        let codes = match array.data_type() {
            DataType::Utf8 => self.encode(array.as_string::<i32>().iter(), len)?,
            DataType::LargeUtf8 => self.encode(array.as_string::<i64>().iter(), len)?,
            DataType::Utf8View => self.encode(array.as_string_view().iter(), len)?,
            DataType::Dictionary(_, _) => self.encode_dictionary(array, nulls.as_ref())?,
            other => {
                return Err(ArrowError::InvalidArgumentError(format!(
                    "group codes: cannot code a {other} column"
                ))
                .into());
            }
        };
        Ok(match self.width {
            CodeWidth::Wide => Arc::new(UInt32Array::new(codes.into(), nulls)),
            // Every code is below 256: `code` refuses the 257th value.
            CodeWidth::Narrow => Arc::new(UInt8Array::new(
                codes.into_iter().map(|code| code as u8).collect(),
                nulls,
            )),
        })
    }

    /// A dictionary array: rows look their key up in the codes of its entries, which are
    /// coded the first time a row uses them.
    fn encode_dictionary(
        &mut self,
        array: &dyn Array,
        nulls: Option<&arrow::buffer::NullBuffer>,
    ) -> Result<Vec<u32>, CodingError> {
        let Some(dictionary) = array.as_any_dictionary_opt() else {
            return Err(ArrowError::InvalidArgumentError(
                "group codes: not a dictionary array".to_owned(),
            )
            .into());
        };
        let entries = dictionary.values();
        let mut seen = match self
            .recent
            .iter()
            .position(|seen| Arc::ptr_eq(&seen.entries, entries))
        {
            Some(i) => self.recent.remove(i),
            None => SeenDictionary {
                entries: Arc::clone(entries),
                strings: arrow::compute::cast(entries, &DataType::Utf8)?
                    .as_string::<i32>()
                    .clone(),
                codes: vec![UNCODED; entries.len()],
            },
        };
        let codes = downcast_dictionary_array! {
            array => self.look_up(array.keys(), &mut seen, nulls),
            other => {
                return Err(ArrowError::InvalidArgumentError(format!(
                    "group codes: cannot code a {other} column"
                ))
                .into());
            }
        };
        // Kept even when a value was refused: the codes given so far stand.
        if self.recent.len() == RECENT_DICTIONARIES {
            self.recent.remove(0);
        }
        self.recent.push(seen);
        Ok(codes?)
    }

    /// The codes of a dictionary array's rows: typed keys read in place (a 10M-row TopN by
    /// region spent 3% of its time in arrow's `normalized_keys` copy, and 5% zeroing).
    fn look_up<K: ArrowDictionaryKeyType>(
        &mut self,
        keys: &PrimitiveArray<K>,
        seen: &mut SeenDictionary,
        nulls: Option<&arrow::buffer::NullBuffer>,
    ) -> Result<Vec<u32>, TooManyGroupValues> {
        let mut codes = Vec::with_capacity(keys.len());
        for (row, key) in keys.values().iter().enumerate() {
            // NULL keys and NULL entries: code 0 under the array's logical nulls. A key past
            // the entries (an invalid array) gets 0 too.
            let code = match seen.codes.get(key.as_usize()) {
                _ if nulls.is_some_and(|n| n.is_null(row)) => 0,
                Some(&UNCODED) => {
                    let key = key.as_usize();
                    let code = self.code(seen.strings.value(key))?;
                    seen.codes[key] = code;
                    code
                }
                Some(&known) => known,
                None => 0,
            };
            codes.push(code);
        }
        Ok(codes)
    }

    fn value(&self, code: u32) -> Option<&str> {
        self.values.get(code as usize).map(|v| &**v)
    }
}

/// What typed requests learned about coding a table's groups, so that later requests do not
/// run twice for the same reason: string group columns with more distinct values than narrow
/// codes hold, and coded queries ([`CodedSql`](super::CodedSql)) whose result was cut short.
/// Forgotten after an hour, so that data that changed gets the faster choice again.
#[derive(Clone)]
pub struct CodingLessons(moka::future::Cache<(TableRef, Lesson), ()>);

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Lesson {
    /// The column needs wide codes.
    WideColumn(String),
    /// This coded SQL (which names the query's shape) left its result cut short.
    CutShort(String),
}

impl Default for CodingLessons {
    fn default() -> Self {
        Self(
            moka::future::Cache::builder()
                .max_capacity(10_000)
                .time_to_live(std::time::Duration::from_secs(3600))
                .support_invalidation_closures()
                .build(),
        )
    }
}

impl std::fmt::Debug for CodingLessons {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("CodingLessons")
            .field(&self.0.entry_count())
            .finish()
    }
}

impl CodingLessons {
    /// The width to code `column` of `table` with.
    pub fn width(&self, table: &TableRef, column: &str) -> CodeWidth {
        let lesson = Lesson::WideColumn(column.to_owned());
        if self.0.contains_key(&(table.clone(), lesson)) {
            CodeWidth::Wide
        } else {
            CodeWidth::Narrow
        }
    }

    /// Remembers that `column` of `table` needs wide codes.
    pub async fn learn_wide(&self, table: &TableRef, column: &str) {
        let lesson = Lesson::WideColumn(column.to_owned());
        self.0.insert((table.clone(), lesson), ()).await;
    }

    /// Whether the coded SQL `sql` over `table` left its result cut short before.
    pub fn cut_short(&self, table: &TableRef, sql: &str) -> bool {
        let lesson = Lesson::CutShort(sql.to_owned());
        self.0.contains_key(&(table.clone(), lesson))
    }

    /// Forgets what was learned about `table`, or about every table (an operator's
    /// InvalidateCache: the data changed).
    pub fn forget(&self, table: Option<&TableRef>) {
        match table {
            Some(table) => {
                let table = table.clone();
                // Only fails without `support_invalidation_closures`, which the cache has.
                if let Err(err) = self.0.invalidate_entries_if(move |(t, _), ()| *t == table) {
                    tracing::warn!(%err, "coding lessons not forgotten");
                }
            }
            None => self.0.invalidate_all(),
        }
    }

    /// Remembers that the coded SQL `sql` over `table` left its result cut short.
    pub async fn learn_cut_short(&self, table: &TableRef, sql: &str) {
        let lesson = Lesson::CutShort(sql.to_owned());
        self.0.insert((table.clone(), lesson), ()).await;
    }
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

    /// The coded columns whose codes are [`CodeWidth::Narrow`].
    pub fn narrow_columns(&self) -> Vec<String> {
        let dictionaries = self
            .dictionaries
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        dictionaries
            .iter()
            .filter(|d| d.width == CodeWidth::Narrow)
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
