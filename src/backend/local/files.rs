//! Finding tables on disk and reading (and caching) their Parquet footers.

use std::{
    collections::{BTreeMap, HashMap},
    fs::File,
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
    time::SystemTime,
};

use arrow::datatypes::SchemaRef;
use parquet::{
    arrow::arrow_reader::{ArrowReaderMetadata, ArrowReaderOptions},
    file::metadata::PageIndexPolicy,
};

use super::prune::{self, IntRange, int_range};
use crate::{
    backend::{BackendError, DataPart, DataVersion, TableRef},
    predicate::Predicate,
};

/// One Parquet file of a table.
#[derive(Debug)]
pub(super) struct FileInfo {
    pub(super) path: PathBuf,
    pub(super) size: u64,
    pub(super) modified: SystemTime,
    pub(super) metadata: ArrowReaderMetadata,
}

/// A row group, numbered across all files of a table.
#[derive(Debug, Clone, Copy)]
pub(super) struct RowGroupRef {
    pub(super) file: usize,
    pub(super) row_group: usize,
}

/// One row group of a table, located for a reader.
#[derive(Debug, Clone)]
pub struct RowGroupSlice {
    /// The Parquet file.
    pub path: PathBuf,
    /// Its parsed footer.
    pub metadata: ArrowReaderMetadata,
    /// Row group index inside the file.
    pub row_group: usize,
    /// Global index of its first row in the table.
    pub first_row: u64,
    /// Rows in it.
    pub num_rows: u64,
}

impl RowGroupSlice {
    /// The row ranges `[start, end)` of this row group (counted from its first row) that may
    /// hold rows matching `predicate`: none when its statistics prove it empty, else the pages
    /// its page index cannot rule out (all of it without one).
    pub fn rows_that_may_match(&self, predicate: Option<&Predicate>) -> Vec<(u64, u64)> {
        if prune::row_groups_to_read(predicate, &self.metadata, &[self.row_group]).is_empty() {
            return Vec::new();
        }
        let Some(selection) = prune::rows_to_read(predicate, &self.metadata, self.row_group) else {
            return vec![(0, self.num_rows)];
        };
        let mut ranges = Vec::new();
        let mut row = 0u64;
        for selector in selection.iter() {
            let next = row + selector.row_count as u64;
            if !selector.skip {
                ranges.push((row, next));
            }
            row = next;
        }
        ranges
    }
}

/// The files of one table, in name order, with their footers.
#[derive(Debug)]
pub struct TableFiles {
    schema: SchemaRef,
    pub(super) files: Vec<FileInfo>,
    row_groups: Vec<RowGroupRef>,
}

impl TableFiles {
    /// The Arrow schema shared by every file.
    pub fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    /// Rows in all files.
    pub fn num_rows(&self) -> u64 {
        self.files
            .iter()
            .map(|f| f.metadata.metadata().file_metadata().num_rows().max(0) as u64)
            .sum()
    }

    /// Bytes on disk.
    pub fn size_bytes(&self) -> u64 {
        self.files.iter().map(|f| f.size).sum()
    }

    /// Every row group in table order with its file, footer and global first row (for readers
    /// that address rows by position, like the VAST emulator).
    pub fn row_group_slices(&self) -> Vec<RowGroupSlice> {
        let mut first_row = 0u64;
        let mut out = Vec::with_capacity(self.row_groups.len());
        for rg in &self.row_groups {
            let info = &self.files[rg.file];
            let rows = info
                .metadata
                .metadata()
                .row_group(rg.row_group)
                .num_rows()
                .max(0) as u64;
            out.push(RowGroupSlice {
                path: info.path.clone(),
                metadata: info.metadata.clone(),
                row_group: rg.row_group,
                first_row,
                num_rows: rows,
            });
            first_row += rows;
        }
        out
    }

    /// The row groups of the whole table, in table order, that may hold rows matching
    /// `predicate`, and the rows they hold. Splits are cut over these, so a filter that prunes
    /// most of a table still spreads what is left over every split.
    pub(super) fn kept_row_groups(&self, predicate: Option<&Predicate>) -> (Vec<RowGroupRef>, u64) {
        let mut kept = Vec::with_capacity(self.row_groups().len());
        let mut rows = 0u64;
        let mut start = 0;
        let all = self.row_groups();
        // The global order keeps each file's row groups contiguous: prune a file at a time.
        while start < all.len() {
            let file = all[start].file;
            let end = all[start..]
                .iter()
                .position(|rg| rg.file != file)
                .map_or(all.len(), |n| start + n);
            let info = &self.files[file];
            let groups: Vec<usize> = all[start..end].iter().map(|rg| rg.row_group).collect();
            for row_group in prune::row_groups_to_read(predicate, &info.metadata, &groups) {
                rows += info
                    .metadata
                    .metadata()
                    .row_group(row_group)
                    .num_rows()
                    .max(0) as u64;
                kept.push(RowGroupRef { file, row_group });
            }
            start = end;
        }
        (kept, rows)
    }

    pub(super) fn row_groups(&self) -> &[RowGroupRef] {
        &self.row_groups
    }

    /// [`TableMeta::int_ranges`](crate::backend::TableMeta): signed integer columns bounded by
    /// the statistics of every row group (with values) of every file.
    pub fn int_ranges(&self) -> BTreeMap<String, (i64, i64)> {
        let mut ranges = BTreeMap::new();
        'columns: for field in self.schema.fields() {
            let mut range: Option<(i64, i64)> = None;
            for file in &self.files {
                match int_range(&file.metadata, field.name()) {
                    IntRange::Unknown => continue 'columns,
                    IntRange::NoValues => {}
                    IntRange::Within(lo, hi) => {
                        range = Some(range.map_or((lo, hi), |(l, h)| (l.min(lo), h.max(hi))));
                    }
                }
            }
            if let Some(range) = range {
                ranges.insert(field.name().clone(), range);
            }
        }
        ranges
    }
}

/// A parsed footer and the file version (mtime, length) it belongs to.
type CachedFooter = (SystemTime, u64, ArrowReaderMetadata);

/// Footers by path, reused while the file's length and mtime are unchanged.
#[derive(Debug, Clone, Default)]
pub(super) struct FooterCache {
    inner: Arc<Mutex<HashMap<PathBuf, CachedFooter>>>,
}

impl FooterCache {
    fn load(&self, path: &Path) -> Result<CachedFooter, BackendError> {
        let io = |e: std::io::Error| BackendError::Unavailable {
            endpoint: path.display().to_string(),
            message: e.to_string(),
        };
        // A hit costs one `stat`: a sliding-window request opens every file's footer per call.
        let stat = std::fs::metadata(path).map_err(io)?;
        let (mtime, len) = (stat.modified().map_err(io)?, stat.len());
        if let Ok(cache) = self.inner.lock()
            && let Some((m, l, meta)) = cache.get(path)
            && *m == mtime
            && *l == len
        {
            return Ok((mtime, len, meta.clone()));
        }
        // What is read is what is cached: the open file's own size and time.
        let file = File::open(path).map_err(io)?;
        let stat = file.metadata().map_err(io)?;
        let (mtime, len) = (stat.modified().map_err(io)?, stat.len());
        // The page index (when the writer wrote one) lets a scan skip pages, not just row groups.
        let options = ArrowReaderOptions::new().with_page_index_policy(PageIndexPolicy::Optional);
        let meta = ArrowReaderMetadata::load(&file, options).map_err(|e| BackendError::Data {
            location: path.display().to_string(),
            message: format!("not a readable Parquet file: {e}"),
        })?;
        if let Ok(mut cache) = self.inner.lock() {
            cache.insert(path.to_owned(), (mtime, len, meta.clone()));
        }
        Ok((mtime, len, meta))
    }
}

/// A schema or table name must be one plain path component: no traversal out of the root.
fn checked_name<'a>(kind: &str, name: &'a str) -> Result<&'a str, BackendError> {
    let bad = name.is_empty()
        || name.starts_with('.')
        || name.contains(['/', '\\', '\0'])
        || name.len() > 255;
    if bad {
        return Err(BackendError::Invalid(format!(
            "invalid {kind} name `{name}`: use a plain name without '/', '\\' or a leading '.'"
        )));
    }
    Ok(name)
}

fn is_parquet(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "parquet")
}

fn sorted_entries(dir: &Path) -> Result<Vec<PathBuf>, std::io::Error> {
    let mut entries = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| !n.starts_with('.'))
        })
        .collect::<Vec<_>>();
    entries.sort();
    Ok(entries)
}

/// Schema folders under `root` (every non-hidden folder).
pub(super) fn list_schemas(root: &Path) -> Result<Vec<String>, BackendError> {
    let entries = sorted_entries(root).map_err(|e| BackendError::Unavailable {
        endpoint: root.display().to_string(),
        message: format!("cannot list the data folder: {e}"),
    })?;
    Ok(entries
        .into_iter()
        .filter(|p| p.is_dir())
        .filter_map(|p| p.file_name().and_then(|n| n.to_str()).map(str::to_owned))
        .collect())
}

/// Table names in a schema folder: `name.parquet` files and folders holding Parquet files.
pub(super) fn list_table_names(root: &Path, schema: &str) -> Result<Vec<String>, BackendError> {
    let dir = root.join(checked_name("schema", schema)?);
    if !dir.is_dir() {
        return Err(BackendError::NotFound {
            what: format!("schema `{schema}`"),
        });
    }
    let entries = sorted_entries(&dir).map_err(|e| BackendError::Unavailable {
        endpoint: dir.display().to_string(),
        message: e.to_string(),
    })?;
    let mut names = Vec::new();
    for path in entries {
        let name = if path.is_file() && is_parquet(&path) {
            path.file_stem()
        } else if path.is_dir()
            && sorted_entries(&path).is_ok_and(|files| files.iter().any(|f| is_parquet(f)))
        {
            path.file_name()
        } else {
            None
        };
        if let Some(name) = name.and_then(|n| n.to_str()) {
            names.push(name.to_owned());
        }
    }
    names.dedup();
    Ok(names)
}

/// The Parquet files of `table`: `schema/table.parquet`, or the files of `schema/table/`
/// in name order.
fn table_paths(root: &Path, table: &TableRef) -> Result<Vec<PathBuf>, BackendError> {
    let schema_dir = root.join(checked_name("schema", &table.schema)?);
    let name = checked_name("table", &table.table)?;
    let single = schema_dir.join(format!("{name}.parquet"));
    let folder = schema_dir.join(name);
    let paths = if single.is_file() {
        vec![single]
    } else if folder.is_dir() {
        sorted_entries(&folder)
            .map_err(|e| BackendError::Unavailable {
                endpoint: folder.display().to_string(),
                message: e.to_string(),
            })?
            .into_iter()
            .filter(|p| p.is_file() && is_parquet(p))
            .collect()
    } else {
        Vec::new()
    };
    if paths.is_empty() {
        return Err(BackendError::NotFound {
            what: format!("table `{}.{}`", table.schema, table.table),
        });
    }
    Ok(paths)
}

/// The table's data version: per file a digest of its path, size and modification time (any
/// write, new file or removal changes it), and the span of `time_column` its statistics show.
pub(super) fn data_version(
    root: &Path,
    table: &TableRef,
    footers: &FooterCache,
    time_column: &str,
) -> Result<DataVersion, BackendError> {
    use sha2::{Digest, Sha256};
    let files = open_table(root, table, footers)?;
    let parts = files
        .files
        .iter()
        .map(|file| {
            let modified = file
                .modified
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos());
            let mut digest = Sha256::new();
            digest.update(file.path.as_os_str().as_encoded_bytes());
            digest.update(file.size.to_le_bytes());
            digest.update(modified.to_le_bytes());
            let span = match prune::time_span(&file.metadata, time_column) {
                IntRange::Within(min, max) => Some((min, max)),
                IntRange::NoValues | IntRange::Unknown => None,
            };
            DataPart {
                digest: digest.finalize()[..16].try_into().unwrap_or_default(),
                span,
            }
        })
        .collect();
    Ok(DataVersion::new(parts))
}

/// The files of `table` with their footers; schemas of all files must agree.
pub(super) fn open_table(
    root: &Path,
    table: &TableRef,
    footers: &FooterCache,
) -> Result<Arc<TableFiles>, BackendError> {
    let paths = table_paths(root, table)?;
    let mut files = Vec::with_capacity(paths.len());
    for path in paths {
        let (modified, size, metadata) = footers.load(&path)?;
        files.push(FileInfo {
            path,
            size,
            modified,
            metadata,
        });
    }
    let schema = Arc::clone(files[0].metadata.schema());
    for file in &files[1..] {
        if file.metadata.schema().fields() != schema.fields() {
            return Err(BackendError::Data {
                location: file.path.display().to_string(),
                message: format!(
                    "schema differs from {}; every file of a table needs the same columns",
                    files[0].path.display()
                ),
            });
        }
    }
    let row_groups = files
        .iter()
        .enumerate()
        .flat_map(|(file, info)| {
            (0..info.metadata.metadata().num_row_groups())
                .map(move |row_group| RowGroupRef { file, row_group })
        })
        .collect();
    Ok(Arc::new(TableFiles {
        schema,
        files,
        row_groups,
    }))
}
