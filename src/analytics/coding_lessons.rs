//! What typed requests learned about coding each table's group columns, so that a request
//! runs twice for the same reason only once.

use crate::backend::TableRef;

use super::group_codes::CodeWidth;

/// What typed requests learned about coding a table's groups, so that later requests do not
/// run twice for the same reason: string group columns with more distinct values than 8-bit
/// codes hold, and coded queries ([`CodedSql`](super::CodedSql)) whose result was cut short.
/// Forgotten after an hour, so that data that changed gets the faster choice again.
#[derive(Clone)]
pub struct CodingLessons(moka::future::Cache<(TableRef, Lesson), ()>);

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Lesson {
    /// The column needs 32-bit codes.
    NeedsU32(String),
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
        let lesson = Lesson::NeedsU32(column.to_owned());
        if self.0.contains_key(&(table.clone(), lesson)) {
            CodeWidth::U32
        } else {
            CodeWidth::U8
        }
    }

    /// Remembers that `column` of `table` needs 32-bit codes.
    pub async fn learn_u32(&self, table: &TableRef, column: &str) {
        let lesson = Lesson::NeedsU32(column.to_owned());
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
