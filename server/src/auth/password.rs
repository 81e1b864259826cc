//! Password hashing (argon2id, PHC strings). Slow on purpose: call it inside
//! `web::block`.
//!
//! Every hash runs on a small pool of its own (one thread per core), in a
//! work area each of those threads keeps. An argon2 hash needs 19 MiB; when
//! each hash allocated it, glibc's allocator raised its mmap threshold after
//! the first free and then served those 19 MiB from its arenas, which
//! fragmented: a burst of 1,200 logins and user creations left the server at
//! 430-600 MB (measured with `gridsync-sim`; ~45 MB with the work areas).

use std::cell::RefCell;
use std::sync::LazyLock;

use argon2::password_hash::{rand_core::OsRng, Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};

static HASHERS: LazyLock<rayon::ThreadPool> = LazyLock::new(|| {
    rayon::ThreadPoolBuilder::new()
        .num_threads(std::thread::available_parallelism().map_or(2, |n| n.get()))
        .thread_name(|i| format!("password-hash-{i}"))
        .build()
        .expect("the password hashing threads start")
});

thread_local! {
    static WORK_AREA: RefCell<Vec<Block>> = const { RefCell::new(Vec::new()) };
}

/// Argon2 output for `password` and the decoded `salt`, computed on a
/// hashing thread in its reused work area.
fn compute(
    algorithm: Algorithm,
    version: Version,
    params: Params,
    password: &[u8],
    salt: &[u8],
) -> Option<Vec<u8>> {
    HASHERS.install(|| {
        let len = params.output_len().unwrap_or(Params::DEFAULT_OUTPUT_LEN);
        let blocks = params.block_count();
        let argon2 = Argon2::new(algorithm, version, params);
        let mut out = vec![0u8; len];
        WORK_AREA.with_borrow_mut(|area| {
            if area.len() < blocks {
                area.resize(blocks, Block::default());
            }
            argon2
                .hash_password_into_with_memory(password, salt, &mut out, &mut area[..blocks])
                .ok()
        })?;
        Some(out)
    })
}

/// A new PHC string (argon2id, the crate's default parameters, a random salt).
pub fn hash(password: &str) -> String {
    let params = Params::default();
    let salt = SaltString::generate(&mut OsRng);
    let mut buf = [0u8; 64];
    let salt_bytes = salt.decode_b64(&mut buf).expect("a generated salt decodes");
    let out = compute(
        Algorithm::Argon2id,
        Version::V0x13,
        params.clone(),
        password.as_bytes(),
        salt_bytes,
    )
    .expect("argon2 with default parameters");
    PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params).expect("default parameters encode"),
        salt: Some(salt.as_salt()),
        hash: Some(Output::new(&out).expect("default output length")),
    }
    .to_string()
}

/// Whether `password` matches the PHC string (any argon2 variant, version
/// and parameters it names).
pub fn verify(password: &str, phc: &str) -> bool {
    let Ok(h) = PasswordHash::new(phc) else {
        return false;
    };
    let (Ok(algorithm), Ok(params), Some(salt), Some(expected)) = (
        Algorithm::try_from(h.algorithm),
        Params::try_from(&h),
        h.salt,
        h.hash,
    ) else {
        return false;
    };
    let version = h
        .version
        .and_then(|v| Version::try_from(v).ok())
        .unwrap_or_default();
    let mut buf = [0u8; 64];
    let Ok(salt_bytes) = salt.decode_b64(&mut buf) else {
        return false;
    };
    compute(algorithm, version, params, password.as_bytes(), salt_bytes)
        .and_then(|out| Output::new(&out).ok())
        // Output's equality is constant-time.
        .is_some_and(|out| out == expected)
}

/// Spend the time of a real verification against nobody's hash, so that an
/// unknown username answers as slowly as a wrong password.
pub fn verify_nothing(password: &str) {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let phc = DUMMY.get_or_init(|| hash("no user has this password"));
    let _ = verify(password, phc);
}

/// A password policy a district can live with: at least 8 characters.
pub fn acceptable(password: &str) -> Result<(), String> {
    if password.chars().count() < 8 {
        return Err("a password has at least 8 characters".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn hash_and_verify() {
        let h = super::hash("correct horse");
        assert!(h.starts_with("$argon2id$"));
        assert!(super::verify("correct horse", &h));
        assert!(!super::verify("wrong horse", &h));
        assert!(!super::verify("x", "not a hash"));
    }

    /// Hashes made here and by the crate's own hasher verify both ways.
    #[test]
    fn compatible_with_the_crate_hasher() {
        use argon2::password_hash::{
            rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
        };
        let theirs = argon2::Argon2::default()
            .hash_password(b"correct horse", &SaltString::generate(&mut OsRng))
            .unwrap()
            .to_string();
        assert!(super::verify("correct horse", &theirs));
        assert!(!super::verify("correct horsf", &theirs));
        let ours = super::hash("correct horse");
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(argon2::Argon2::default()
            .verify_password(b"correct horse", &parsed)
            .is_ok());
        // A hash with other parameters (a cheaper one, say from an import).
        let params = argon2::Params::new(4096, 3, 1, None).unwrap();
        let cheap =
            argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params)
                .hash_password(b"pw-12345", &SaltString::generate(&mut OsRng))
                .unwrap()
                .to_string();
        assert!(super::verify("pw-12345", &cheap));
        assert!(!super::verify("pw-12346", &cheap));
    }
}
