//! A table's data version, per time range: which stored parts (local: files) may hold rows of
//! a time range, and a digest of those parts that any write to them changes. Cached results
//! over a range stay valid while its version does — a file that lands with later rows leaves
//! the versions of earlier ranges as they were.

use sha2::{Digest, Sha256};

/// One stored part of a table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataPart {
    /// Changes with any write to the part (local: the file's path, size and modification time).
    pub digest: [u8; 16],
    /// Microseconds `[min, max]` that bound the part's values of the time column; `None` when
    /// no statistics bound them (the part then counts for every range).
    pub span: Option<(i64, i64)>,
}

/// The parts of a table, in a stable order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DataVersion {
    parts: Vec<DataPart>,
}

impl DataVersion {
    /// A version made of `parts`.
    pub fn new(parts: Vec<DataPart>) -> Self {
        Self { parts }
    }

    /// The version of the rows whose time lies in `[start, end)` microseconds: a digest of the
    /// parts that may hold such rows, in order.
    pub fn of_range(&self, start: i64, end: i64) -> String {
        let mut digest = Sha256::new();
        for part in &self.parts {
            let overlaps = part.span.is_none_or(|(min, max)| min < end && max >= start);
            if overlaps {
                digest.update(part.digest);
            }
        }
        hex::encode(&digest.finalize()[..12])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(byte: u8, span: Option<(i64, i64)>) -> DataPart {
        DataPart {
            digest: [byte; 16],
            span,
        }
    }

    #[test]
    fn a_range_depends_only_on_the_parts_that_may_hold_its_rows() {
        let old = DataVersion::new(vec![part(1, Some((0, 99))), part(2, Some((100, 199)))]);
        // A new part with later rows: earlier ranges keep their version, later ones change.
        let appended = DataVersion::new(vec![
            part(1, Some((0, 99))),
            part(2, Some((100, 199))),
            part(3, Some((200, 250))),
        ]);
        assert_eq!(old.of_range(0, 100), appended.of_range(0, 100));
        assert_eq!(old.of_range(100, 200), appended.of_range(100, 200));
        assert_ne!(old.of_range(200, 300), appended.of_range(200, 300));
        // The bounds are inclusive of max and exclusive of the range's end.
        assert_ne!(old.of_range(99, 100), old.of_range(100, 101));
        assert_eq!(
            old.of_range(200, 300),
            DataVersion::default().of_range(0, 1)
        );
        // A rewritten part changes every range it spans, and only those.
        let rewritten = DataVersion::new(vec![part(1, Some((0, 99))), part(9, Some((100, 199)))]);
        assert_eq!(old.of_range(0, 100), rewritten.of_range(0, 100));
        assert_ne!(old.of_range(150, 160), rewritten.of_range(150, 160));
        // A part without statistics counts everywhere.
        let unknown = DataVersion::new(vec![part(1, Some((0, 99))), part(4, None)]);
        assert_ne!(
            unknown.of_range(500, 600),
            DataVersion::default().of_range(500, 600)
        );
        assert_ne!(unknown.of_range(0, 10), old.of_range(0, 10));
    }
}
