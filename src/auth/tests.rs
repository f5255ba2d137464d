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
