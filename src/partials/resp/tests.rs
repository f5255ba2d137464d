use super::*;

#[test]
fn parses_every_reply_kind_and_waits_for_more() {
    let cases: Vec<(&[u8], Reply)> = vec![
        (b"+OK\r\n", Reply::Status("OK".into())),
        (b"-ERR no\r\n", Reply::Error("ERR no".into())),
        (b":42\r\n", Reply::Integer(42)),
        (b"$3\r\na\r\n\r\n", Reply::Bulk(b"a\r\n".to_vec())),
        (b"$-1\r\n", Reply::Nil),
        (
            b"*3\r\n$1\r\nx\r\n$-1\r\n:7\r\n",
            Reply::Array(vec![
                Reply::Bulk(b"x".to_vec()),
                Reply::Nil,
                Reply::Integer(7),
            ]),
        ),
        (b"*-1\r\n", Reply::Nil),
    ];
    for (bytes, expected) in cases {
        assert_eq!(parse(bytes).unwrap(), Some((expected, bytes.len())));
        for cut in 0..bytes.len() {
            assert_eq!(
                parse(&bytes[..cut]).unwrap(),
                None,
                "{bytes:?} cut at {cut}"
            );
        }
    }
    assert!(parse(b"?what\r\n").is_err());
    assert!(parse(b"$999999999999\r\n").is_err());
}

#[test]
fn encodes_commands_as_bulk_arrays() {
    assert_eq!(command(&[b"GET", b"k"]), b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n");
}

#[test]
fn parses_urls() {
    let url = RedisUrl::parse("redis://127.0.0.1:6390/2").unwrap();
    assert_eq!(
        (url.address.as_str(), url.db, url.password),
        ("127.0.0.1:6390", 2, None)
    );
    let url = RedisUrl::parse("redis://:secret@cache").unwrap();
    assert_eq!(url.address, "cache:6379");
    assert_eq!((url.user, url.password), (None, Some("secret".into())));
    let url = RedisUrl::parse("redis://app:pw@cache:1/0").unwrap();
    assert_eq!(
        (url.user, url.password),
        (Some("app".into()), Some("pw".into()))
    );
    assert!(RedisUrl::parse("http://cache").is_err());
    assert!(RedisUrl::parse("redis://").is_err());
    assert!(RedisUrl::parse("redis://cache/x").is_err());
}
