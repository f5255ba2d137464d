//! What `GetXdbcTypeInfo` says: the SQL types a vastgate statement can return, named as
//! DuckDB names them (the engine that runs every statement), with their JDBC/ODBC codes.

use std::sync::OnceLock;

use arrow_flight::sql::{
    Nullable, Searchable, XdbcDataType, XdbcDatetimeSubcode,
    metadata::{XdbcTypeInfo, XdbcTypeInfoData, XdbcTypeInfoDataBuilder},
};

/// The answers, built once.
pub(super) fn xdbc_types() -> &'static XdbcTypeInfoData {
    static TYPES: OnceLock<XdbcTypeInfoData> = OnceLock::new();
    TYPES.get_or_init(|| {
        let mut types = XdbcTypeInfoDataBuilder::new();
        for info in [
            number("BOOLEAN", XdbcDataType::XdbcBit, 1, None),
            number("TINYINT", XdbcDataType::XdbcTinyint, 3, Some(false)),
            number("SMALLINT", XdbcDataType::XdbcSmallint, 5, Some(false)),
            number("INTEGER", XdbcDataType::XdbcInteger, 10, Some(false)),
            number("BIGINT", XdbcDataType::XdbcBigint, 19, Some(false)),
            number("UTINYINT", XdbcDataType::XdbcTinyint, 3, Some(true)),
            number("USMALLINT", XdbcDataType::XdbcSmallint, 5, Some(true)),
            number("UINTEGER", XdbcDataType::XdbcInteger, 10, Some(true)),
            number("UBIGINT", XdbcDataType::XdbcBigint, 20, Some(true)),
            number("FLOAT", XdbcDataType::XdbcReal, 7, Some(false)),
            number("DOUBLE", XdbcDataType::XdbcDouble, 15, Some(false)),
            XdbcTypeInfo {
                create_params: Some(vec!["precision".into(), "scale".into()]),
                fixed_prec_scale: true,
                minimum_scale: Some(0),
                maximum_scale: Some(38),
                ..number("DECIMAL", XdbcDataType::XdbcDecimal, 38, Some(false))
            },
            text("VARCHAR", XdbcDataType::XdbcVarchar, Some("'")),
            text("BLOB", XdbcDataType::XdbcVarbinary, None),
            temporal("DATE", XdbcDataType::XdbcDate, 10, None),
            temporal(
                "TIME",
                XdbcDataType::XdbcTime,
                15,
                Some(XdbcDatetimeSubcode::XdbcSubcodeTime),
            ),
            temporal(
                "TIMESTAMP",
                XdbcDataType::XdbcTimestamp,
                26,
                Some(XdbcDatetimeSubcode::XdbcSubcodeTimestamp),
            ),
            temporal(
                "TIMESTAMP WITH TIME ZONE",
                XdbcDataType::XdbcTimestamp,
                32,
                Some(XdbcDatetimeSubcode::XdbcSubcodeTimestampWithTimezone),
            ),
        ] {
            types.append(info);
        }
        types.build().expect("constant XDBC type entries build")
    })
}

/// A numeric type: `size` decimal digits (1 for BOOLEAN), radix 10, comparable in a WHERE.
fn number(name: &str, code: XdbcDataType, size: i32, unsigned: Option<bool>) -> XdbcTypeInfo {
    XdbcTypeInfo {
        unsigned_attribute: unsigned,
        num_prec_radix: unsigned.map(|_| 10),
        ..base(name, code, size, Searchable::Basic)
    }
}

/// A string-like type, searchable with LIKE and comparisons.
fn text(name: &str, code: XdbcDataType, quote: Option<&str>) -> XdbcTypeInfo {
    XdbcTypeInfo {
        literal_prefix: quote.map(str::to_owned),
        literal_suffix: quote.map(str::to_owned),
        case_sensitive: true,
        ..base(name, code, i32::MAX, Searchable::Full)
    }
}

/// A date or time type, written as a quoted literal after its type name.
fn temporal(
    name: &str,
    code: XdbcDataType,
    size: i32,
    subcode: Option<XdbcDatetimeSubcode>,
) -> XdbcTypeInfo {
    XdbcTypeInfo {
        literal_prefix: Some(format!("{name} '")),
        literal_suffix: Some("'".into()),
        sql_data_type: XdbcDataType::XdbcDatetime,
        datetime_subcode: subcode,
        ..base(name, code, size, Searchable::Basic)
    }
}

fn base(name: &str, code: XdbcDataType, size: i32, searchable: Searchable) -> XdbcTypeInfo {
    XdbcTypeInfo {
        type_name: name.to_owned(),
        data_type: code,
        column_size: Some(size),
        literal_prefix: None,
        literal_suffix: None,
        create_params: None,
        nullable: Nullable::NullabilityNullable,
        case_sensitive: false,
        searchable,
        unsigned_attribute: None,
        fixed_prec_scale: false,
        auto_increment: Some(false),
        local_type_name: Some(name.to_owned()),
        minimum_scale: None,
        maximum_scale: None,
        sql_data_type: code,
        datetime_subcode: None,
        num_prec_radix: None,
        interval_precision: None,
    }
}
