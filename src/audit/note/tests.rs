use super::*;

/// A fresh log key named `name` (generated, as `broker dev-init` does).
fn key(name: &str) -> LogKey {
    let pem = crate::crypto::generate_log_key().unwrap();
    LogKey::new(LogSigningKey::from_pem(pem.as_bytes()).unwrap(), name).unwrap()
}

fn checkpoint(size: u64) -> Checkpoint {
    Checkpoint {
        origin: "broker.example/audit".into(),
        size,
        root: std::array::from_fn(|i| i as u8 * 7),
    }
}

#[test]
fn a_signed_checkpoint_opens_with_the_verifier_and_reads_back_the_same() {
    let key = key("broker.example/audit");
    let cp = checkpoint(10);
    let note = key.sign(&cp);
    assert!(note.starts_with(&format!(
        "broker.example/audit\n10\n{}\n\n",
        B64.encode(cp.root)
    )));
    assert!(note.contains("\n\u{2014} broker.example/audit "), "{note}");
    assert!(note.ends_with('\n'));
    let verifier = Verifier::parse(&key.verifier().vkey()).unwrap();
    assert_eq!(verifier, key.verifier());
    assert_eq!(verifier.open(&note), Ok(cp));
    assert_eq!(
        key.checkpoint(0, [0; 32]).body(),
        format!("broker.example/audit\n0\n{}\n", B64.encode([0u8; 32]))
    );
}

#[test]
fn a_tampered_size_root_origin_or_signature_is_refused() {
    let key = key("broker.example/audit");
    let cp = checkpoint(10);
    let note = key.sign(&cp);
    let verifier = key.verifier();
    let other_root = B64.encode([9u8; 32]);
    let signature = &note[note.find('\u{2014}').unwrap()..];
    let last_char = signature.len() - 2;
    let mut flipped = signature.to_owned();
    flipped.replace_range(
        last_char - 3..last_char - 2,
        if &signature[last_char - 3..last_char - 2] == "A" {
            "B"
        } else {
            "A"
        },
    );
    let cases = [
        ("size", note.replacen("\n10\n", "\n11\n", 1)),
        ("root", note.replacen(&B64.encode(cp.root), &other_root, 1)),
        (
            "origin",
            note.replacen("broker.example/audit\n", "broker.example/audi7\n", 1),
        ),
        ("signature", note.replacen(signature, &flipped, 1)),
    ];
    for (what, tampered) in cases {
        assert_ne!(tampered, note, "{what}: nothing was changed");
        assert_eq!(
            verifier.open(&tampered),
            Err(NoteError::BadSignature {
                name: "broker.example/audit".into()
            }),
            "{what}"
        );
    }
}

#[test]
fn a_note_signed_by_another_key_is_refused_even_under_the_same_name() {
    let ours = key("broker.example/audit");
    let theirs = key("broker.example/audit");
    let note = theirs.sign(&checkpoint(3));
    let e = ours.verifier().open(&note).unwrap_err();
    assert!(matches!(e, NoteError::NotSigned { .. }), "{e}");
    assert!(
        e.to_string().contains(&hex::encode(ours.verifier().key_id)),
        "{e}"
    );
    let elsewhere = key("elsewhere.example/log");
    let note = elsewhere.sign(&Checkpoint {
        origin: "elsewhere.example/log".into(),
        ..checkpoint(3)
    });
    assert!(matches!(
        ours.verifier().open(&note),
        Err(NoteError::NotSigned { .. })
    ));
}

#[test]
fn a_checkpoint_of_another_origin_is_refused_though_its_signature_holds() {
    let key = key("broker.example/audit");
    let note = key.sign(&Checkpoint {
        origin: "other.example/audit".into(),
        ..checkpoint(4)
    });
    assert_eq!(
        key.verifier().open(&note),
        Err(NoteError::Origin {
            found: "other.example/audit".into(),
            expected: "broker.example/audit".into()
        })
    );
}

#[test]
fn signatures_by_unknown_keys_are_passed_over() {
    let ours = key("broker.example/audit");
    let witness = key("witness.example/w1");
    let cp = checkpoint(5);
    let note = ours.sign(&cp);
    let cosigned = witness.sign_text(&cp.body());
    let witness_line = &cosigned[cosigned.find('\u{2014}').unwrap()..];
    let both = format!("{note}{witness_line}");
    assert_eq!(ours.verifier().open(&both), Ok(cp.clone()));
    let witness_first = format!(
        "{}\n{witness_line}{}",
        cp.body(),
        &note[note.find('\u{2014}').unwrap()..]
    );
    assert_eq!(ours.verifier().open(&witness_first), Ok(cp));
}

#[test]
fn a_malformed_note_is_refused_saying_what_is_wrong() {
    let key = key("broker.example/audit");
    let note = key.sign(&checkpoint(5));
    let v = key.verifier();
    for (bad, says) in [
        (note.trim_end().to_owned(), "does not end with a newline"),
        (note.replacen("\n\n", "\n", 1), "no blank line"),
        (format!("{}\n", checkpoint(5).body()), "no signature line"),
        (note.replacen('\u{2014}', "-", 1), "is not \""),
        (
            note.replacen("audit\n5", "audit\r\n5", 1),
            "control character",
        ),
    ] {
        let e = v.open(&bad).unwrap_err();
        assert!(e.to_string().contains(says), "{says}: {e}");
    }
}

#[test]
fn a_checkpoint_body_must_be_exactly_origin_size_and_root() {
    let root = B64.encode([1u8; 32]);
    assert_eq!(
        Checkpoint::parse(&format!("o\n0\n{root}\n")).map(|c| c.size),
        Ok(0)
    );
    assert_eq!(
        Checkpoint::parse(&format!("o\n18446744073709551615\n{root}\n")).map(|c| c.size),
        Ok(u64::MAX)
    );
    let short = B64.encode([1u8; 31]);
    let unpadded = root.trim_end_matches('=');
    for (body, says) in [
        (format!("o\n010\n{root}\n"), "leading zero"),
        (format!("o\n+10\n{root}\n"), "not a decimal"),
        (format!("o\n-1\n{root}\n"), "not a decimal"),
        (format!("o\n\n{root}\n"), "not a decimal"),
        (format!("o\n18446744073709551616\n{root}\n"), "too large"),
        (format!("o\n10\n{short}\n"), "not 32 bytes"),
        (format!("o\n10\n{unpadded}\n"), "not standard base64"),
        (format!("o\n10\n{root}\nextension\n"), "extension lines"),
        ("o\n10\n".to_owned(), "three lines"),
        (format!("\n10\n{root}\n"), "origin line is empty"),
        (format!("o\n10\n{root}"), "newline"),
    ] {
        let e = Checkpoint::parse(&body).unwrap_err();
        assert!(e.to_string().contains(says), "{body:?}: {e}");
    }
}

/// The verifier key and note of the Go reference implementation's tests
/// (golang.org/x/mod/sumdb/note, `note_test.go`): the format read here is the one the Go
/// ecosystem's tools write.
const GO_VKEY: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
const GO_TEXT: &str = "If you think cryptography is the answer to your problem,\n\
                       then you don't know what your problem is.\n";
const GO_SIGNATURE: &str = "\u{2014} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";

#[test]
fn the_go_reference_note_opens_and_its_key_id_is_computed_alike() {
    let v = Verifier::parse(GO_VKEY).unwrap();
    assert_eq!(v.vkey(), GO_VKEY);
    assert_eq!(hex::encode(key_id("PeterNeumann", &v.public)), "c74f20a3");
    let note = format!("{GO_TEXT}\n{GO_SIGNATURE}");
    assert_eq!(v.open_text(&note), Ok(GO_TEXT));
    let altered = note.replacen("cryptography", "cryptographY", 1);
    assert!(matches!(
        v.open_text(&altered),
        Err(NoteError::BadSignature { .. })
    ));
    let e = v.open(&note).unwrap_err();
    assert!(matches!(e, NoteError::Checkpoint(_)), "{e}");
}

#[test]
fn a_malformed_verifier_key_is_refused_saying_what_is_wrong() {
    let other_id = GO_VKEY.replacen("c74f20a3", "c74f20a4", 1);
    let upper = GO_VKEY.replacen("c74f20a3", "C74F20A3", 1);
    let ecdsa = GO_VKEY.replacen("+ARpc", "+Ahpc", 1);
    let short = &GO_VKEY[..GO_VKEY.len() - 4];
    for (bad, says) in [
        (other_id.as_str(), "does not match"),
        (upper.as_str(), "8 lower-case hex"),
        (ecdsa.as_str(), "not of type Ed25519"),
        (short, "not 32 bytes"),
        ("PeterNeumann+c74f20a3", "<name>+<key id>+<key>"),
        (
            "Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
            "key name",
        ),
        (
            "+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
            "empty",
        ),
    ] {
        let e = Verifier::parse(bad).unwrap_err();
        assert!(e.to_string().contains(says), "{bad}: {e}");
    }
    assert_eq!(
        Verifier::parse(&format!("  {GO_VKEY}\n")).map(|v| v.vkey()),
        Ok(GO_VKEY.into())
    );
}

#[test]
fn a_key_name_with_a_space_or_plus_is_refused_and_debug_shows_no_secret() {
    let pem = crate::crypto::generate_log_key().unwrap();
    for name in ["", "a b", "a+b", "a\nb"] {
        let key = LogSigningKey::from_pem(pem.as_bytes()).unwrap();
        assert!(LogKey::new(key, name).is_err(), "{name:?}");
    }
    let key = key("broker.example/audit");
    let shown = format!("{key:?}");
    assert!(shown.contains(&key.verifier().vkey()), "{shown}");
    assert!(!shown.contains("PRIVATE"), "{shown}");
}
