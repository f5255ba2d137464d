//! The deterministic demo dataset.
//!
//! `demo.sensors`: 20 sensors in 4 regions reporting once a minute: temperature with a region
//! base, daily seasonality, a slow per-sensor trend, noise and rare injected spikes (the
//! anomalies); humidity and pressure with a few NULLs; a status that follows the spikes.
//! `demo.orders`: a tenth as many orders with categories, quantities and skewed amounts.
//! The same `seed` and row count always give the same rows.

use std::{
    f64::consts::PI,
    fs,
    path::{Path, PathBuf},
    sync::Arc,
};

use arrow::{
    array::{
        ArrayRef, Float64Builder, Int32Builder, Int64Builder, StringBuilder,
        TimestampMicrosecondBuilder,
    },
    datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit},
    record_batch::RecordBatch,
};
use parquet::{arrow::ArrowWriter, basic::Compression, file::properties::WriterProperties};
use rand::{Rng, SeedableRng, rngs::SmallRng};

use crate::progress::RowProgress;

/// Sensors in `demo.sensors`.
pub const SENSORS: u32 = 20;
/// Regions in `demo.sensors`.
pub const REGIONS: [&str; 4] = ["north", "south", "east", "west"];
/// First timestamp: 2026-01-01T00:00:00Z in microseconds.
pub const START_MICROS: i64 = 1_767_225_600_000_000;
/// Rows per Parquet row group (a split never cuts a row group).
pub const ROW_GROUP_ROWS: usize = 131_072;
const BATCH_ROWS: usize = 65_536;
const CATEGORIES: [&str; 8] = [
    "books",
    "electronics",
    "garden",
    "grocery",
    "music",
    "sports",
    "toys",
    "travel",
];
const COUNTRIES: [&str; 6] = ["DE", "FR", "JP", "NL", "US", "BR"];

/// Why generation failed.
#[derive(Debug, thiserror::Error)]
pub enum GenError {
    /// Writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Encoding Parquet failed.
    #[error("{path}: {source}")]
    Parquet {
        /// The file.
        path: PathBuf,
        /// The encoder's error.
        source: parquet::errors::ParquetError,
    },
    /// Building a batch failed (a bug).
    #[error("building a batch: {0}")]
    Arrow(#[from] arrow::error::ArrowError),
}

/// The schema of `demo.sensors`.
pub fn sensors_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new(
            "ts",
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            false,
        ),
        Field::new("sensor_id", DataType::Int32, false),
        Field::new("region", DataType::Utf8, false),
        Field::new("temperature", DataType::Float64, true),
        Field::new("humidity", DataType::Float64, true),
        Field::new("pressure", DataType::Float64, true),
        Field::new("status", DataType::Utf8, false),
    ]))
}

/// The schema of `demo.orders`.
pub fn orders_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("order_id", DataType::Int64, false),
        Field::new("customer_id", DataType::Int32, false),
        Field::new("category", DataType::Utf8, false),
        Field::new("country", DataType::Utf8, false),
        Field::new("quantity", DataType::Int32, false),
        Field::new("amount", DataType::Float64, true),
        Field::new(
            "ordered_at",
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            false,
        ),
    ]))
}

/// Writes `demo.sensors` (`rows` rows) and `demo.orders` (`rows / 10`, at least 1,000) into
/// `out/demo/`. Returns a one-line summary.
pub fn generate(out: &Path, rows: u64, seed: u64) -> Result<String, GenError> {
    let started = std::time::Instant::now();
    let dir = out.join("demo");
    fs::create_dir_all(&dir).map_err(|source| GenError::Io {
        path: dir.clone(),
        source,
    })?;
    let sensors = dir.join("sensors.parquet");
    write_table(
        &sensors,
        "demo.sensors",
        sensors_schema(),
        rows,
        |offset, len| sensors_batch(seed, offset, len),
    )?;
    let order_rows = (rows / 10).max(1_000);
    let orders = dir.join("orders.parquet");
    write_table(
        &orders,
        "demo.orders",
        orders_schema(),
        order_rows,
        |offset, len| orders_batch(seed, offset, len),
    )?;
    Ok(format!(
        "wrote demo.sensors ({rows} rows) and demo.orders ({order_rows} rows) to {} in {:.1}s",
        dir.display(),
        started.elapsed().as_secs_f64()
    ))
}

/// Generates the demo dataset into `data` unless it already holds a table.
pub fn ensure_demo(data: &Path) -> Result<Option<String>, GenError> {
    if holds_tables(data) {
        return Ok(None);
    }
    generate(data, 1_000_000, 42).map(Some)
}

fn holds_tables(data: &Path) -> bool {
    let Ok(schemas) = fs::read_dir(data) else {
        return false;
    };
    schemas.filter_map(Result::ok).any(|schema| {
        fs::read_dir(schema.path()).is_ok_and(|tables| {
            tables.filter_map(Result::ok).any(|t| {
                let p = t.path();
                p.extension().is_some_and(|e| e == "parquet") || p.is_dir()
            })
        })
    })
}

/// Writes `rows` rows produced batch by batch, into a temporary file renamed at the end so a
/// reader never sees half a table.
fn write_table(
    path: &Path,
    label: &str,
    schema: SchemaRef,
    rows: u64,
    batch: impl Fn(u64, usize) -> Result<RecordBatch, GenError>,
) -> Result<(), GenError> {
    let tmp = path.with_extension("parquet.tmp");
    let io = |source| GenError::Io {
        path: tmp.clone(),
        source,
    };
    let file = fs::File::create(&tmp).map_err(io)?;
    let props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .build();
    let parquet = |source| GenError::Parquet {
        path: tmp.clone(),
        source,
    };
    let mut writer = ArrowWriter::try_new(file, schema, Some(props)).map_err(parquet)?;
    let mut progress = RowProgress::start(label, rows);
    let mut offset = 0u64;
    while offset < rows {
        let len = (rows - offset).min(BATCH_ROWS as u64) as usize;
        writer.write(&batch(offset, len)?).map_err(parquet)?;
        offset += len as u64;
        progress.advance(len as u64);
    }
    drop(progress);
    writer.close().map_err(parquet)?;
    fs::rename(&tmp, path).map_err(|source| GenError::Io {
        path: path.to_owned(),
        source,
    })
}

/// A generator for row `index` alone, so any batch can be produced independently.
fn row_rng(seed: u64, table: u64, index: u64) -> SmallRng {
    // SplitMix-style mixing so neighbouring rows get unrelated streams.
    let mut z = seed
        ^ table.wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ index.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    SmallRng::seed_from_u64(z ^ (z >> 31))
}

/// A standard normal sample (Box–Muller).
fn normal(rng: &mut SmallRng) -> f64 {
    let u1: f64 = rng.random::<f64>().max(f64::MIN_POSITIVE);
    let u2: f64 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (2.0 * PI * u2).cos()
}

fn sensors_batch(seed: u64, offset: u64, len: usize) -> Result<RecordBatch, GenError> {
    let mut ts = TimestampMicrosecondBuilder::with_capacity(len).with_timezone("UTC");
    let mut sensor = Int32Builder::with_capacity(len);
    let mut region = StringBuilder::with_capacity(len, len * 5);
    let mut temperature = Float64Builder::with_capacity(len);
    let mut humidity = Float64Builder::with_capacity(len);
    let mut pressure = Float64Builder::with_capacity(len);
    let mut status = StringBuilder::with_capacity(len, len * 2);
    for index in offset..offset + len as u64 {
        let mut rng = row_rng(seed, 1, index);
        let minute = index / u64::from(SENSORS);
        let id = (index % u64::from(SENSORS)) as u32;
        let region_index = (id as usize) % REGIONS.len();
        let micros = START_MICROS + (minute as i64) * 60_000_000;
        let day_fraction = (minute % 1_440) as f64 / 1_440.0;
        let days = minute as f64 / 1_440.0;
        // Per-sensor constants derived from the id, independent of the row.
        let base = 8.0 + 4.0 * region_index as f64 + f64::from(id % 5);
        let trend_per_day = (f64::from(id) - 9.5) * 0.004;
        let seasonal = 5.0 * (2.0 * PI * (day_fraction - 0.25)).sin();
        let mut temp = base + seasonal + trend_per_day * days + 0.6 * normal(&mut rng);
        let spike = rng.random::<f64>() < 0.001;
        if spike {
            temp += if rng.random::<bool>() { 18.0 } else { -18.0 };
        }
        let failed = rng.random::<f64>() < 0.0005;
        ts.append_value(micros);
        sensor.append_value(id as i32);
        region.append_value(REGIONS[region_index]);
        if failed {
            temperature.append_null();
        } else {
            temperature.append_value(round2(temp));
        }
        if rng.random::<f64>() < 0.01 {
            humidity.append_null();
        } else {
            let h = 60.0 - 15.0 * (2.0 * PI * day_fraction).sin() + 4.0 * normal(&mut rng);
            humidity.append_value(round2(h.clamp(0.0, 100.0)));
        }
        if rng.random::<f64>() < 0.005 {
            pressure.append_null();
        } else {
            pressure.append_value(round2(
                1013.0 + 6.0 * (2.0 * PI * days / 9.0).sin() + 1.5 * normal(&mut rng),
            ));
        }
        status.append_value(if failed {
            "error"
        } else if spike {
            "warn"
        } else {
            "ok"
        });
    }
    let columns: Vec<ArrayRef> = vec![
        Arc::new(ts.finish()),
        Arc::new(sensor.finish()),
        Arc::new(region.finish()),
        Arc::new(temperature.finish()),
        Arc::new(humidity.finish()),
        Arc::new(pressure.finish()),
        Arc::new(status.finish()),
    ];
    Ok(RecordBatch::try_new(sensors_schema(), columns)?)
}

fn orders_batch(seed: u64, offset: u64, len: usize) -> Result<RecordBatch, GenError> {
    let mut id = Int64Builder::with_capacity(len);
    let mut customer = Int32Builder::with_capacity(len);
    let mut category = StringBuilder::with_capacity(len, len * 8);
    let mut country = StringBuilder::with_capacity(len, len * 2);
    let mut quantity = Int32Builder::with_capacity(len);
    let mut amount = Float64Builder::with_capacity(len);
    let mut ordered_at = TimestampMicrosecondBuilder::with_capacity(len).with_timezone("UTC");
    for index in offset..offset + len as u64 {
        let mut rng = row_rng(seed, 2, index);
        // Zipf-like skew: low category and customer numbers are more popular.
        let c = ((rng.random::<f64>().powi(2)) * CATEGORIES.len() as f64) as usize;
        let cat = c.min(CATEGORIES.len() - 1);
        id.append_value(100_000 + index as i64);
        customer.append_value((rng.random::<f64>().powi(3) * 5_000.0) as i32 + 1);
        category.append_value(CATEGORIES[cat]);
        country.append_value(COUNTRIES[rng.random_range(0..COUNTRIES.len())]);
        let q = rng.random_range(1..=5);
        quantity.append_value(q);
        if rng.random::<f64>() < 0.002 {
            amount.append_null();
        } else {
            let unit = (2.5 + cat as f64 * 0.4 + 0.9 * normal(&mut rng)).exp();
            amount.append_value(round2(unit * f64::from(q)));
        }
        ordered_at.append_value(START_MICROS + index as i64 * 17_000_000);
    }
    let columns: Vec<ArrayRef> = vec![
        Arc::new(id.finish()),
        Arc::new(customer.finish()),
        Arc::new(category.finish()),
        Arc::new(country.finish()),
        Arc::new(quantity.finish()),
        Arc::new(amount.finish()),
        Arc::new(ordered_at.finish()),
    ];
    Ok(RecordBatch::try_new(orders_schema(), columns)?)
}

fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_are_deterministic_and_independent_of_batching() {
        let whole = sensors_batch(7, 0, 100).unwrap();
        let tail = sensors_batch(7, 40, 60).unwrap();
        assert_eq!(whole.slice(40, 60), tail);
        assert_ne!(sensors_batch(8, 0, 100).unwrap(), whole);
        let orders = orders_batch(7, 0, 50).unwrap();
        assert_eq!(orders, orders_batch(7, 0, 50).unwrap());
    }

    #[test]
    fn sensors_shape() {
        let batch = sensors_batch(42, 0, 20_000).unwrap();
        assert_eq!(batch.num_rows(), 20_000);
        let humidity = batch.column_by_name("humidity").unwrap();
        let nulls = humidity.null_count();
        assert!(
            (100..400).contains(&nulls),
            "about 1% NULL humidity, got {nulls}"
        );
        let ids = batch
            .column_by_name("sensor_id")
            .unwrap()
            .as_any()
            .downcast_ref::<arrow::array::Int32Array>()
            .unwrap();
        assert_eq!(ids.value(0), 0);
        assert_eq!(ids.value(19), 19);
        assert_eq!(ids.value(20), 0);
    }
}
