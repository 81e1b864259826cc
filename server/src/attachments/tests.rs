use super::*;
use crate::auth::policy::{sample_scope as scope, Role};

#[test]
fn download_answers() {
    let tag = etag(&"a".repeat(64), None);
    let t = tag.as_str();
    // If-None-Match, Range, If-Range, the answer.
    type Row<'a> = (Option<&'a str>, Option<&'a str>, Option<&'a str>, Answer);
    let table: &[Row<'_>] = &[
        (None, None, None, Answer::Whole),
        (Some(t), None, None, Answer::NotModified),
        (Some("\"other\", *"), None, None, Answer::NotModified),
        (Some("\"other\""), None, None, Answer::Whole),
        (None, Some("bytes=0-99"), None, Answer::Part(0..100)),
        (None, Some("bytes=100-"), None, Answer::Part(100..1000)),
        (None, Some("bytes=-10"), None, Answer::Part(990..1000)),
        (None, Some("bytes=990-5000"), None, Answer::Part(990..1000)),
        (None, Some("bytes=1000-"), None, Answer::Unsatisfiable),
        (None, Some("bytes=5-1"), None, Answer::Whole),
        (None, Some("lines=1-2"), None, Answer::Whole),
        (None, Some("bytes=0-1,5-6"), None, Answer::Whole),
        (None, Some("bytes=0-99"), Some(t), Answer::Part(0..100)),
        (None, Some("bytes=0-99"), Some("\"stale\""), Answer::Whole),
        (Some(t), Some("bytes=0-99"), None, Answer::NotModified),
    ];
    for (inm, range, if_range, want) in table {
        assert_eq!(
            &answer(t, 1000, *inm, *range, *if_range),
            want,
            "{inm:?} {range:?} {if_range:?}"
        );
    }
}

#[test]
fn upload_limits() {
    let limits = AttachmentLimits {
        media_types: vec!["image/jpeg".into()],
        max_bytes: 100,
        ..AttachmentLimits::default()
    };
    let sha = "0".repeat(64);
    assert_eq!(limits.check(&sha, "image/jpeg", 100), Ok(()));
    let code = |r: Result<(), Refusal>| r.unwrap_err().code();
    assert_eq!(
        code(limits.check(&sha, "image/jpeg", 101)),
        "attachment_too_large"
    );
    assert_eq!(
        code(limits.check(&sha, "image/jpeg", 0)),
        "attachment_empty"
    );
    assert_eq!(
        code(limits.check(&sha, "image/png", 10)),
        "media_type_not_allowed"
    );
    assert_eq!(
        code(limits.check("ABC", "image/jpeg", 10)),
        "invalid_sha256"
    );
    assert_eq!(
        code(limits.check(&"A".repeat(64), "image/jpeg", 10)),
        "invalid_sha256"
    );
}

fn reference(grid: &str, collection: &str) -> RefRow {
    RefRow {
        sha256: "a".repeat(64),
        record_id: "r".into(),
        grid: grid.into(),
        collection: collection.into(),
        media_type: "image/jpeg".into(),
        size: 10,
    }
}

#[test]
fn who_may_read_an_attachment() {
    let refs = [reference("g1", "event")];
    assert_eq!(
        access(&refs, &scope(Role::GridWorker, "g1"), &[]),
        Access::Allowed
    );
    assert_eq!(
        access(&refs, &scope(Role::Supervisor, "p"), &[]),
        Access::Allowed
    );
    assert_eq!(
        access(&refs, &scope(Role::GridWorker, "g2"), &[]),
        Access::OutOfScope
    );
    assert_eq!(
        access(&[], &scope(Role::Supervisor, "d"), &[]),
        Access::Unknown
    );
    // Two records in two grids: one in reach is enough.
    let both = [reference("g2", "event"), reference("g1", "event")];
    assert_eq!(
        access(&both, &scope(Role::GridWorker, "g1"), &[]),
        Access::Allowed
    );
    // An upload must match a reference the caller can read, type and size.
    let s = scope(Role::GridWorker, "g1");
    assert!(matching_ref(&both, &s, &[], "image/jpeg", 10).is_some());
    assert!(matching_ref(&both, &s, &[], "image/jpeg", 11).is_none());
    assert!(matching_ref(&both, &s, &[], "image/png", 10).is_none());
    assert!(matching_ref(&both, &scope(Role::GridWorker, "d"), &[], "image/jpeg", 10).is_some());
    // A department's staff have no grids: they reach the records dispatched
    // to their department, and only those.
    let dept = scope(Role::Department, "fire");
    let sent = [("g1".to_owned(), refs[0].record_id.clone())];
    assert_eq!(access(&refs, &dept, &[]), Access::OutOfScope);
    assert_eq!(access(&refs, &dept, &sent), Access::Allowed);
    let elsewhere = [("g2".to_owned(), refs[0].record_id.clone())];
    assert_eq!(access(&refs, &dept, &elsewhere), Access::OutOfScope);
    assert!(matching_ref(&refs, &dept, &sent, "image/jpeg", 10).is_some());
    assert!(matching_ref(&refs, &dept, &[], "image/jpeg", 10).is_none());
}

#[test]
fn checksums_and_sniffing() {
    let data = b"hello";
    let header = checksum_header(data);
    assert_eq!(
        parse_checksum(&header).unwrap().to_vec(),
        Sha256::digest(data).to_vec()
    );
    assert!(parse_checksum("md5 abc").is_err());
    assert!(parse_checksum("sha256 !!!").is_err());
    assert!(parse_checksum("sha256 aGVsbG8=").is_err(), "not 32 bytes");
    assert!(parse_checksum("sha256").is_err());
    assert!(looks_like(
        &[0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10, b'J', b'F'],
        "image/jpeg"
    ));
    assert!(looks_like(b"%PDF-1.7\n", "application/pdf"));
    assert!(!looks_like(b"%PDF-1.7\n", "image/jpeg"));
    assert!(!looks_like(b"MZ\x90\x00", "image/png"));
    assert_eq!(china_day(0), "1970-01-01");
    // 16:00 UTC is midnight in China: the next day.
    assert_eq!(china_day(16 * 3600 * 1000), "1970-01-02");
}
