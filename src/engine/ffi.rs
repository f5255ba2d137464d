//! The few DuckDB C API calls duckdb-rs does not wrap: opening the database ourselves (so the
//! raw handle is ours) and handing DuckDB an Arrow C stream it scans natively, without the
//! per-value copies of the Appender (`benches/RESULTS.md`, "Engine ingest").
//!
//! This is the only hand-written `unsafe` in the crate. Every call keeps the C API's rules:
//! the database outlives its connections, a connection is used by one thread at a time, and
//! a stream handed to `duckdb_arrow_scan` stays alive until the view over it is dropped.
#![allow(unsafe_code)]

use std::ffi::{CStr, CString, c_char};

use arrow::{ffi_stream::FFI_ArrowArrayStream, record_batch::RecordBatchReader};
use duckdb::{Connection, ffi};

/// An in-memory DuckDB database opened through the C API; closed on drop.
///
/// Connections made by [`Database::connect`] do not keep it open: drop them first.
pub(crate) struct Database {
    raw: ffi::duckdb_database,
}

// SAFETY: a `duckdb_database` may be used from any thread; DuckDB synchronizes internally.
unsafe impl Send for Database {}
// SAFETY: as above; `connect` only reads the handle.
unsafe impl Sync for Database {}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Database").finish_non_exhaustive()
    }
}

impl Database {
    /// Opens a new in-memory database with `settings` (DuckDB option names and values),
    /// applied in order.
    pub(crate) fn open_in_memory(settings: &[(&str, String)]) -> Result<Self, String> {
        let mut config: ffi::duckdb_config = std::ptr::null_mut();
        // SAFETY: `config` is a valid out-pointer; it is destroyed below on every path.
        if unsafe { ffi::duckdb_create_config(&mut config) } != ffi::DuckDBSuccess {
            return Err("cannot allocate a DuckDB configuration".to_owned());
        }
        let result = Self::open_with(config, settings);
        // SAFETY: `config` came from `duckdb_create_config`; DuckDB copied what it needed.
        unsafe { ffi::duckdb_destroy_config(&mut config) };
        result
    }

    fn open_with(config: ffi::duckdb_config, settings: &[(&str, String)]) -> Result<Self, String> {
        for (name, value) in settings {
            let c_name = c_string(name)?;
            let c_value = c_string(value)?;
            // SAFETY: both strings are NUL-terminated and outlive the call.
            let state =
                unsafe { ffi::duckdb_set_config(config, c_name.as_ptr(), c_value.as_ptr()) };
            if state != ffi::DuckDBSuccess {
                return Err(format!("DuckDB refused the setting {name} = {value:?}"));
            }
        }
        let mut raw: ffi::duckdb_database = std::ptr::null_mut();
        let mut error: *mut c_char = std::ptr::null_mut();
        // SAFETY: a NULL path opens an in-memory database; the out-pointers are valid.
        let state = unsafe { ffi::duckdb_open_ext(std::ptr::null(), &mut raw, config, &mut error) };
        if state != ffi::DuckDBSuccess {
            let message = take_c_error(error);
            return Err(format!("cannot open the DuckDB database: {message}"));
        }
        Ok(Self { raw })
    }

    /// A duckdb-rs connection to this database.
    pub(crate) fn connect(&self) -> duckdb::Result<Connection> {
        // SAFETY: `self.raw` is an open database; the caller drops the connection before
        // the database (documented on the type).
        unsafe { Connection::open_from_raw(self.raw) }
    }

    /// A bare C API connection, for [`RawConnection::register_arrow_stream`].
    pub(crate) fn connect_raw(&self) -> Result<RawConnection, String> {
        let mut raw: ffi::duckdb_connection = std::ptr::null_mut();
        // SAFETY: `self.raw` is an open database and `raw` a valid out-pointer.
        if unsafe { ffi::duckdb_connect(self.raw, &mut raw) } != ffi::DuckDBSuccess {
            // SAFETY: disconnect accepts the (possibly NULL) handle of a failed connect.
            unsafe { ffi::duckdb_disconnect(&mut raw) };
            return Err("cannot open a DuckDB connection".to_owned());
        }
        Ok(RawConnection { raw })
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        // SAFETY: opened by `duckdb_open_ext` and closed exactly once, here.
        unsafe { ffi::duckdb_close(&mut self.raw) };
    }
}

/// A C API connection: registers Arrow streams as views. Closed on drop.
pub(crate) struct RawConnection {
    raw: ffi::duckdb_connection,
}

// SAFETY: a connection may move between threads; `&mut self` on every use keeps it to one
// thread at a time.
unsafe impl Send for RawConnection {}

impl std::fmt::Debug for RawConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawConnection").finish_non_exhaustive()
    }
}

impl RawConnection {
    /// Registers `reader` as the view `view` (in `main`, visible to every connection) over
    /// DuckDB's native Arrow scan. The stream can be read once: the statement that scans the
    /// view must scan it exactly once. Drop it with [`RawConnection::drop_arrow_stream`].
    pub(crate) fn register_arrow_stream(
        &mut self,
        view: &str,
        reader: Box<dyn RecordBatchReader + Send>,
    ) -> Result<ArrowStreamView, String> {
        let c_view = c_string(view)?;
        // Boxed so its address stays fixed while DuckDB holds it.
        let mut stream = Box::new(FFI_ArrowArrayStream::new(reader));
        let stream_ptr: *mut FFI_ArrowArrayStream = &mut *stream;
        // SAFETY: the connection is open; `stream` is a valid Arrow C stream that outlives
        // the view (`ArrowStreamView` frees it only after `DROP VIEW` succeeded).
        let state = unsafe { ffi::duckdb_arrow_scan(self.raw, c_view.as_ptr(), stream_ptr.cast()) };
        if state != ffi::DuckDBSuccess {
            return Err(format!("DuckDB could not scan the Arrow stream as {view}"));
        }
        Ok(ArrowStreamView {
            view: view.to_owned(),
            stream: Some(stream),
        })
    }

    /// Drops the view of [`RawConnection::register_arrow_stream`], then frees its stream.
    pub(crate) fn drop_arrow_stream(
        &mut self,
        mut registered: ArrowStreamView,
    ) -> Result<(), String> {
        self.execute(&format!(
            "DROP VIEW IF EXISTS {}",
            super::quote_ident(&registered.view)
        ))?;
        // The view is gone: nothing can read the stream any more.
        drop(registered.stream.take());
        Ok(())
    }

    /// Runs one statement and discards its result.
    pub(crate) fn execute(&mut self, sql: &str) -> Result<(), String> {
        let c_sql = c_string(sql)?;
        // SAFETY: an all-zero `duckdb_result` is the documented "empty" state.
        let mut result: ffi::duckdb_result = unsafe { std::mem::zeroed() };
        // SAFETY: the connection is open, `c_sql` NUL-terminated, `result` a valid out-pointer.
        let state = unsafe { ffi::duckdb_query(self.raw, c_sql.as_ptr(), &mut result) };
        let outcome = if state == ffi::DuckDBSuccess {
            Ok(())
        } else {
            // SAFETY: `result` was filled by `duckdb_query`; the message lives until destroy.
            let message = unsafe { ffi::duckdb_result_error(&mut result) };
            Err(if message.is_null() {
                "unknown DuckDB error".to_owned()
            } else {
                // SAFETY: non-NULL, NUL-terminated, valid until `duckdb_destroy_result`.
                unsafe { CStr::from_ptr(message) }
                    .to_string_lossy()
                    .into_owned()
            })
        };
        // SAFETY: destroyed exactly once, after its last use.
        unsafe { ffi::duckdb_destroy_result(&mut result) };
        outcome
    }
}

impl Drop for RawConnection {
    fn drop(&mut self) {
        // SAFETY: opened by `duckdb_connect` and closed exactly once, here.
        unsafe { ffi::duckdb_disconnect(&mut self.raw) };
    }
}

fn c_string(text: &str) -> Result<CString, String> {
    CString::new(text).map_err(|_| format!("{text:?} contains a NUL byte"))
}

/// Reads and frees an error string DuckDB allocated.
fn take_c_error(error: *mut c_char) -> String {
    if error.is_null() {
        return "unknown error".to_owned();
    }
    // SAFETY: DuckDB set `error` to a NUL-terminated string it allocated with malloc.
    let message = unsafe { CStr::from_ptr(error) }
        .to_string_lossy()
        .into_owned();
    // SAFETY: freed once, with DuckDB's allocator.
    unsafe { ffi::duckdb_free(error.cast()) };
    message
}

/// An Arrow stream DuckDB may read through a view. Dropped without
/// [`RawConnection::drop_arrow_stream`], the stream is leaked rather than freed under a view
/// that may still point at it.
pub(crate) struct ArrowStreamView {
    view: String,
    stream: Option<Box<FFI_ArrowArrayStream>>,
}

impl std::fmt::Debug for ArrowStreamView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ArrowStreamView")
            .field("view", &self.view)
            .finish_non_exhaustive()
    }
}

impl Drop for ArrowStreamView {
    fn drop(&mut self) {
        if let Some(stream) = self.stream.take() {
            std::mem::forget(stream);
        }
    }
}
