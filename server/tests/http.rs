//! The real server on port 0, spoken to over HTTP.

use std::net::TcpListener;

struct Running {
    base: String,
    handle: actix_web::dev::ServerHandle,
}

impl Drop for Running {
    fn drop(&mut self) {
        // Stop the server; the runtime thread ends with it.
        drop(self.handle.stop(false));
    }
}

fn start() -> Running {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let server = gridsync_server::serve(listener).unwrap();
            tx.send(server.handle()).unwrap();
            server.await
        })
    });
    Running {
        base,
        handle: rx.recv().unwrap(),
    }
}

#[test]
fn health_and_schema() {
    let s = start();
    let health: serde_json::Value = ureq::get(&format!("{}/healthz", s.base))
        .call()
        .unwrap()
        .into_json()
        .unwrap();
    assert_eq!(health["status"], "ok");

    let schema: serde_json::Value = ureq::get(&format!("{}/v1/schema", s.base))
        .call()
        .unwrap()
        .into_json()
        .unwrap();
    assert_eq!(schema["version"], gridsync_core::SCHEMA_VERSION);
    let names: Vec<&str> = schema["collections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"key_person") && names.contains(&"patrol_round"),
        "{names:?}"
    );
}

#[test]
fn unknown_routes_answer_a_json_error_with_a_code() {
    let s = start();
    match ureq::get(&format!("{}/v1/nowhere", s.base)).call() {
        Err(ureq::Error::Status(404, resp)) => {
            let body: serde_json::Value = resp.into_json().unwrap();
            assert_eq!(body["code"], "not_found");
            assert!(body["message"].as_str().unwrap().contains("/v1/nowhere"));
        }
        other => panic!("expected a 404, got {other:?}"),
    }
}
