use sha2::{Digest, Sha256};

use super::*;

fn entry(name: &str, role: &str, token: &str, schemas: Option<&str>) -> String {
    let digest = hex::encode(Sha256::digest(token.as_bytes()));
    let schemas = schemas.map_or(String::new(), |s| format!("schemas = [{s}]\n"));
    format!("[[tokens]]\nname = \"{name}\"\nrole = \"{role}\"\nsha256 = \"{digest}\"\n{schemas}\n")
}

#[test]
fn a_listed_token_names_its_caller_and_an_unknown_one_nobody() {
    let text = entry("etl", "reader", "tok-etl", Some("\"demo\""))
        + &entry("ops", "admin", "tok-ops", None);
    let tokens = Tokens::parse(&text).unwrap();
    assert_eq!(tokens.len(), 2);

    let etl = tokens.authenticate("tok-etl").unwrap();
    assert_eq!(etl.name, "etl");
    assert_eq!(etl.role, Role::Reader);
    assert!(etl.may_read("demo"));
    assert!(!etl.may_read("finance"));
    assert!(!etl.is_admin());

    let ops = tokens.authenticate("tok-ops").unwrap();
    assert!(ops.is_admin());
    assert!(ops.may_read("finance"));

    assert_eq!(tokens.authenticate("tok-et"), None);
    assert_eq!(tokens.authenticate(""), None);
    // The file holds digests: presenting the digest itself is not the token.
    let digest = hex::encode(Sha256::digest(b"tok-etl"));
    assert_eq!(tokens.authenticate(&digest), None);
}

#[test]
fn a_broken_file_says_which_entry_and_what_to_fix() {
    let bad_digest = "[[tokens]]\nname = \"a\"\nrole = \"reader\"\nsha256 = \"abc\"\n";
    let err = Tokens::parse(bad_digest).unwrap_err();
    assert!(
        err.contains("entry 1 (`a`)") && err.contains("64 hex digits"),
        "{err}"
    );

    let twice = entry("a", "reader", "t1", None) + &entry("a", "admin", "t2", None);
    assert!(Tokens::parse(&twice).unwrap_err().contains("used twice"));

    let same = entry("a", "reader", "t1", None) + &entry("b", "admin", "t1", None);
    assert!(Tokens::parse(&same).unwrap_err().contains("listed twice"));

    let role = entry("a", "root", "t1", None);
    assert!(Tokens::parse(&role).unwrap_err().contains("root"));

    let unknown_key = entry("a", "reader", "t1", None).replace("role", "rol");
    assert!(Tokens::parse(&unknown_key).is_err());

    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("tokens.toml");
    let err = Tokens::load(&missing).unwrap_err().to_string();
    assert!(
        err.contains("auth.tokens_file") && err.contains("tokens.toml"),
        "{err}"
    );
}

#[test]
fn a_new_token_authenticates_through_its_printed_entry() {
    let (token, toml) = new_token("reporting", Role::Admin, None);
    assert!(
        token.starts_with("vgt_") && token.len() == 4 + 64,
        "{token}"
    );
    assert!(!toml.contains(&token), "the entry must not hold the token");
    let tokens = Tokens::parse(&toml).unwrap();
    let caller = tokens.authenticate(&token).unwrap();
    assert_eq!(
        (caller.name.as_str(), caller.role),
        ("reporting", Role::Admin)
    );
    let (other, _) = new_token("reporting", Role::Admin, None);
    assert_ne!(token, other);

    let (token, toml) = new_token("etl", Role::Reader, Some(vec!["demo".to_owned()]));
    let caller = Tokens::parse(&toml).unwrap().authenticate(&token).unwrap();
    assert!(caller.may_read("demo") && !caller.may_read("other"));
}

fn gate_over(text: &str, cert_roles: &[(&str, Role)]) -> (Gate, tempfile::NamedTempFile) {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), text).unwrap();
    let config = crate::config::AuthConfig {
        enabled: true,
        tokens_file: Some(file.path().to_owned()),
        client_cert_roles: cert_roles
            .iter()
            .map(|(name, role)| ((*name).to_owned(), *role))
            .collect(),
    };
    (Gate::new(&config).unwrap(), file)
}

#[test]
fn the_gate_identifies_by_bearer_token_then_by_certificate() {
    let (gate, _file) = gate_over(
        &entry("etl", "reader", "tok-etl", None),
        &[("svc.example", Role::Admin)],
    );
    let etl = gate.identify(Some(b"Bearer tok-etl"), None).unwrap();
    assert_eq!(etl.name, "etl");
    assert_eq!(gate.identify(Some(b"bearer  tok-etl "), None).unwrap(), etl);
    // A token that is wrong is refused even when a certificate would identify the caller.
    let peer = PeerNames(vec!["other".into(), "svc.example".into()]);
    let err = gate
        .identify(Some(b"Bearer nope"), Some(&peer))
        .unwrap_err();
    assert!(matches!(err, Refusal::Unauthenticated(_)));
    assert!(!err.to_string().contains("nope"));
    let svc = gate.identify(None, Some(&peer)).unwrap();
    assert_eq!((svc.name.as_str(), svc.role), ("svc.example", Role::Admin));
    assert!(
        gate.identify(None, Some(&PeerNames(vec!["x".into()])))
            .is_err()
    );
    assert!(gate.identify(Some(b"Basic dG9rLWV0bA=="), None).is_err());
    // Off: everyone is the anonymous admin.
    assert_eq!(Gate::open().identify(None, None).unwrap(), anonymous());
}

#[test]
fn readers_reach_admin_only_for_their_own_queries() {
    let reader = Caller {
        name: "r".into(),
        role: Role::Reader,
        schemas: None,
    };
    assert!(may_call(&reader, "/vastgate.v1.QueryService/Select").is_ok());
    assert!(may_call(&reader, "/arrow.flight.protocol.FlightService/DoGet").is_ok());
    assert!(may_call(&reader, "/vastgate.v1.AdminService/ListQueries").is_ok());
    assert!(may_call(&reader, "/vastgate.v1.AdminService/CancelQuery").is_ok());
    let err = may_call(&reader, "/vastgate.v1.AdminService/GetConfig").unwrap_err();
    assert!(matches!(err, Refusal::PermissionDenied(m) if m.contains("GetConfig")));
    assert!(may_call(&anonymous(), "/vastgate.v1.AdminService/GetConfig").is_ok());
    assert!(needs_no_identity("/grpc.health.v1.Health/Check"));
    assert!(needs_no_identity(
        "/arrow.flight.protocol.FlightService/Handshake"
    ));
    assert!(!needs_no_identity("/vastgate.v1.AdminService/Health"));
}

#[test]
fn flight_handshake_takes_the_token_as_basic_password_and_reload_revokes() {
    let (gate, file) = gate_over(&entry("etl", "reader", "tok-etl", None), &[]);
    // base64("etl:tok-etl")
    let basic = b"Basic ZXRsOnRvay1ldGw=";
    assert_eq!(
        gate.handshake(Some(basic)).unwrap().as_deref(),
        Some("tok-etl")
    );
    assert!(gate.handshake(None).is_err());
    assert!(gate.handshake(Some(b"Basic ZXRsOnRvay1ldA==")).is_err());
    // Revoked by rewriting the file and reloading; a broken file keeps what was loaded.
    std::fs::write(file.path(), entry("ops", "admin", "tok-ops", None)).unwrap();
    assert_eq!(gate.reload().unwrap(), 1);
    assert!(gate.caller_of("tok-etl").is_none());
    std::fs::write(file.path(), "[[tokens]]\nname = 1\n").unwrap();
    assert!(gate.reload().is_err());
    assert!(gate.caller_of("tok-ops").is_some());
}
