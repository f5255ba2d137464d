//! One coded column's dictionary: the distinct strings numbered in order of arrival, found
//! by hash, and the Arrow dictionaries seen last so each Parquet dictionary entry is coded once.

use std::{hash::BuildHasher, sync::Arc};

use arrow::{
    array::{
        Array, ArrayRef, AsArray, PrimitiveArray, StringArray, UInt8Array, UInt32Array,
        downcast_dictionary_array,
    },
    datatypes::{ArrowDictionaryKeyType, ArrowNativeType, DataType},
    error::ArrowError,
};
use hashbrown::{DefaultHashBuilder, HashTable};

use super::{CodeWidth, CodingError, TooManyGroupValues, UNCODED};

/// Arrow dictionaries kept with the codes of their entries: one per split the executor
/// interleaves, with room to spare.
const RECENT_DICTIONARIES: usize = 16;

/// The distinct values of one coded column, numbered in order of arrival.
pub(super) struct Dictionary {
    pub(super) column: String,
    pub(super) width: CodeWidth,
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
    pub(super) fn new(column: &str, width: CodeWidth) -> Self {
        Self {
            column: column.to_owned(),
            width,
            codes: HashTable::new(),
            values: Vec::new(),
            hasher: DefaultHashBuilder::default(),
            recent: Vec::new(),
        }
    }

    pub(super) fn code(&mut self, value: &str) -> Result<u32, TooManyGroupValues> {
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

    pub(super) fn encode_array(&mut self, array: &dyn Array) -> Result<ArrayRef, CodingError> {
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
            CodeWidth::U32 => Arc::new(UInt32Array::new(codes.into(), nulls)),
            // Every code is below 256: `code` refuses the 257th value.
            CodeWidth::U8 => Arc::new(UInt8Array::new(
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

    /// The codes of a dictionary array's rows: typed keys read in place, without arrow's
    /// `normalized_keys` copy and its zeroing.
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

    pub(super) fn value(&self, code: u32) -> Option<&str> {
        self.values.get(code as usize).map(|v| &**v)
    }
}
