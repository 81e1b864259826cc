//! The HTTP transport: the server's JSON endpoints over a blocking agent.

use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;

use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value as Json};

use crate::error::ClientError;
use crate::sync::{Failure, SyncRequest, SyncResponse};

/// The server, reached over HTTP.
#[derive(Debug, Clone)]
pub struct Http {
    base: String,
    agent: ureq::Agent,
}

/// A token pair (login, device registration, refresh).
#[derive(Debug, Clone, Deserialize)]
pub struct Tokens {
    pub access_token: String,
    pub refresh_token: String,
}

/// The registered install.
#[derive(Debug, Clone, Deserialize)]
pub struct Registered {
    pub device: RegisteredDevice,
    pub access_token: String,
    pub refresh_token: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct RegisteredDevice {
    pub id: String,
    pub actor: u32,
}

/// Where an attachment's upload stands, as the server says.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct UploadAnswer {
    pub sha256: String,
    /// `stored` or `uploading`.
    pub state: String,
    #[serde(default)]
    pub upload: Option<String>,
    pub offset: u64,
    pub size: u64,
    pub chunk_size: u64,
    pub max_chunk: u64,
}

/// The system's trusted roots, read once per process (an empty set where
/// the system has none: then only a CA given with [`Http::trusting`] works).
fn system_roots() -> &'static rustls::RootCertStore {
    static ROOTS: OnceLock<rustls::RootCertStore> = OnceLock::new();
    ROOTS.get_or_init(|| {
        let mut roots = rustls::RootCertStore::empty();
        // Unreadable system certificates are skipped, not fatal.
        roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
        roots
    })
}

/// TLS for `https://` servers (TLS 1.2 and 1.3, with ring): `roots` only.
fn tls_config(roots: rustls::RootCertStore) -> Arc<rustls::ClientConfig> {
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("ring supports the default versions")
    .with_root_certificates(roots)
    .with_no_client_auth();
    Arc::new(config)
}

impl Http {
    /// The server at `base` (`http://…` or `https://…`, trusted by the
    /// system's roots).
    pub fn new(base: &str) -> Http {
        static SYSTEM: OnceLock<Arc<rustls::ClientConfig>> = OnceLock::new();
        let tls = SYSTEM.get_or_init(|| tls_config(system_roots().clone()));
        Http::with_tls(base, tls.clone())
    }

    /// The server at `base`, trusting a private CA too (the PEM file at
    /// `ca_file`: one or more certificates), as a government intranet needs.
    pub fn trusting(base: &str, ca_file: &Path) -> Result<Http, ClientError> {
        let tls_error = |why: String| ClientError::Tls {
            path: ca_file.display().to_string(),
            why,
        };
        let mut roots = system_roots().clone();
        let mut added = 0;
        for cert in CertificateDer::pem_file_iter(ca_file).map_err(|e| tls_error(e.to_string()))? {
            let cert = cert.map_err(|e| tls_error(e.to_string()))?;
            roots
                .add(cert)
                .map_err(|e| tls_error(format!("not a CA certificate: {e}")))?;
            added += 1;
        }
        if added == 0 {
            return Err(tls_error("no PEM certificate in the file".into()));
        }
        Ok(Http::with_tls(base, tls_config(roots)))
    }

    fn with_tls(base: &str, tls: Arc<rustls::ClientConfig>) -> Http {
        Http {
            base: base.trim_end_matches('/').to_owned(),
            agent: ureq::AgentBuilder::new()
                .timeout_connect(Duration::from_secs(10))
                .timeout_read(Duration::from_secs(120))
                .timeout_write(Duration::from_secs(120))
                .tls_config(tls)
                .build(),
        }
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// Log in with a password: a user token pair.
    pub fn login(&self, username: &str, password: &str) -> Result<Tokens, Failure> {
        self.post(
            "/v1/auth/login",
            None,
            &json!({"username": username, "password": password}),
        )
    }

    /// Register this install; its actor id and device-bound tokens.
    pub fn register(&self, user_token: &str, name: &str) -> Result<Registered, Failure> {
        self.post("/v1/devices", Some(user_token), &json!({ "name": name }))
    }

    /// Rotate the refresh token.
    pub fn refresh(&self, refresh_token: &str) -> Result<Tokens, Failure> {
        self.post(
            "/v1/auth/refresh",
            None,
            &json!({ "refresh_token": refresh_token }),
        )
    }

    /// One sync round trip.
    pub fn sync(&self, token: &str, req: &SyncRequest<'_>) -> Result<SyncResponse, Failure> {
        self.post("/v1/sync", Some(token), req)
    }

    /// Hand a revoked install's unsent changes to the quarantine, with a
    /// fresh login (`user_token`) of the same user.
    pub fn hand_over(
        &self,
        user_token: &str,
        device_id: &str,
        changes: &[&serde_json::value::RawValue],
    ) -> Result<gridsync_core::wire::HandOverResponse, Failure> {
        self.post(
            &format!("/v1/devices/{device_id}/handover"),
            Some(user_token),
            &gridsync_core::wire::HandOverRequest {
                changes: changes.to_vec(),
            },
        )
    }

    /// Begin or resume the upload of an attachment (or learn the server has it).
    pub fn begin_upload(
        &self,
        token: &str,
        sha256: &str,
        media_type: &str,
        size: u64,
    ) -> Result<UploadAnswer, Failure> {
        self.post(
            "/v1/attachments",
            Some(token),
            &json!({"sha256": sha256, "media_type": media_type, "size": size}),
        )
    }

    /// Send the bytes of an upload that start at `offset`, with their checksum.
    pub fn send_chunk(
        &self,
        token: &str,
        upload: &str,
        offset: u64,
        data: &[u8],
    ) -> Result<UploadAnswer, Failure> {
        let req = self
            .agent
            .request(
                "PATCH",
                &format!("{}/v1/attachments/uploads/{upload}", self.base),
            )
            .set("Authorization", &format!("Bearer {token}"))
            .set("Content-Type", "application/offset+octet-stream")
            .set("Upload-Offset", &offset.to_string())
            .set(
                "Upload-Checksum",
                &crate::attachments::checksum_header(data),
            );
        answer(req.send_bytes(data))
    }

    /// GET an attachment's bytes from `from` on (a range, to resume).
    pub fn download(
        &self,
        token: &str,
        sha256: &str,
        from: u64,
    ) -> Result<ureq::Response, Failure> {
        let mut req = self
            .agent
            .get(&format!("{}/v1/attachments/{sha256}", self.base))
            .set("Authorization", &format!("Bearer {token}"));
        if from > 0 {
            req = req.set("Range", &format!("bytes={from}-"));
        }
        match req.call() {
            Ok(r) => Ok(r),
            Err(e) => Err(failure(e)),
        }
    }

    /// Any GET, for the tools (the simulator's checks).
    pub fn get<T: DeserializeOwned>(&self, path: &str, token: &str) -> Result<T, Failure> {
        let req = self
            .agent
            .get(&format!("{}{path}", self.base))
            .set("Authorization", &format!("Bearer {token}"));
        answer(req.call())
    }

    /// Any POST with a JSON body.
    pub fn post<T: DeserializeOwned>(
        &self,
        path: &str,
        token: Option<&str>,
        body: &impl serde::Serialize,
    ) -> Result<T, Failure> {
        let mut req = self.agent.post(&format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.set("Authorization", &format!("Bearer {t}"));
        }
        let body = serde_json::to_vec(body).map_err(|e| Failure::Transport(e.to_string()))?;
        answer(
            req.set("Content-Type", "application/json")
                .send_bytes(&body),
        )
    }
}

fn answer<T: DeserializeOwned>(res: Result<ureq::Response, ureq::Error>) -> Result<T, Failure> {
    match res {
        Ok(r) => {
            let status = r.status();
            // Read whole, then parsed from the bytes: parsing from a reader
            // goes byte by byte through it, and each record state it keeps
            // as text is copied out anyway (a page is a few hundred KB).
            let mut body = Vec::new();
            std::io::Read::read_to_end(&mut r.into_reader(), &mut body)
                .map_err(|e| Failure::Transport(format!("reading the answer: {e}")))?;
            serde_json::from_slice(&body).map_err(|e| {
                if e.is_io() || e.is_eof() {
                    Failure::Transport(format!("reading the answer: {e}"))
                } else {
                    Failure::Status {
                        status,
                        code: "unreadable_answer".into(),
                        message: format!("{e}"),
                    }
                }
            })
        }
        Err(e) => Err(failure(e)),
    }
}

fn failure(e: ureq::Error) -> Failure {
    match e {
        ureq::Error::Status(status, r) => {
            let body: Json = r.into_json().unwrap_or(Json::Null);
            Failure::Status {
                status,
                code: body["code"].as_str().unwrap_or("http_error").to_owned(),
                message: body["message"].as_str().unwrap_or_default().to_owned(),
            }
        }
        ureq::Error::Transport(t) => Failure::Transport(t.to_string()),
    }
}
