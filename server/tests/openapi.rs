//! The OpenAPI document at `/openapi.json`, checked against the server that
//! serves it: every route the server mounts (the route table,
//! `gridsync_server::api::ROUTES`, which is what `configure` mounts) is
//! documented with its method and path parameters, nothing is documented
//! that is not mounted, each operation asks for the login the server asks
//! for, and live answers of every kind have the documented shape.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::{on_both_backends, Backend, Phone, TestServer, ADMIN, PASSWORD};
use gridsync_server::api::ROUTES;
use serde_json::{json, Value as Json};
use uuid::Uuid;

const GRID: &str = "420203-001-003-012";
const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

on_both_backends!(live_answers_have_the_documented_shapes);

/// The document, fetched without a login.
fn document(s: &TestServer) -> Json {
    let res = ureq::get(&s.url("/openapi.json")).call().unwrap();
    assert_eq!(res.status(), 200);
    assert!(
        res.content_type().starts_with("application/json"),
        "{}",
        res.content_type()
    );
    res.into_json().unwrap()
}

fn operation<'a>(doc: &'a Json, path: &str, method: &str) -> &'a Json {
    let op = &doc["paths"][path][method];
    assert!(op.is_object(), "{method} {path} is not documented");
    op
}

/// The `{name}` segments of a path.
fn placeholders(path: &str) -> BTreeSet<String> {
    path.split('/')
        .filter_map(|seg| seg.strip_prefix('{')?.strip_suffix('}'))
        .map(str::to_owned)
        .collect()
}

#[test]
fn every_mounted_route_is_documented_and_nothing_else() {
    let b = Backend::sqlite();
    let s = TestServer::start(&b);
    let doc = document(&s);
    assert!(
        doc["openapi"].as_str().unwrap_or("").starts_with("3.1."),
        "not OpenAPI 3.1: {}",
        doc["openapi"]
    );
    let mut wrong = Vec::new();
    // Mounted, so documented: method, path, and the path's parameters.
    for r in ROUTES {
        let op = &doc["paths"][r.path][r.method];
        if !op.is_object() {
            wrong.push(format!(
                "{} {} is mounted but not documented",
                r.method, r.path
            ));
            continue;
        }
        let declared: BTreeSet<String> = op["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|p| p["in"] == "path")
            .filter_map(|p| p["name"].as_str().map(str::to_owned))
            .collect();
        if declared != placeholders(r.path) {
            wrong.push(format!(
                "{} {}: path parameters documented {declared:?}",
                r.method, r.path
            ));
        }
        let responses = op["responses"].as_object().cloned().unwrap_or_default();
        // A success: a 2xx, or a redirect (`/app` to `/app/`).
        if !responses
            .keys()
            .any(|k| k.starts_with('2') || k.starts_with('3'))
        {
            wrong.push(format!(
                "{} {}: no 2xx or 3xx answer documented",
                r.method, r.path
            ));
        }
        // Every error answer documented is the error body.
        for (status, res) in &responses {
            if status.starts_with('4') || status.starts_with('5') {
                let schema = &res["content"]["application/json"]["schema"]["$ref"];
                if schema != "#/components/schemas/ErrorBody" {
                    wrong.push(format!(
                        "{} {}: {status} is not documented as the error body",
                        r.method, r.path
                    ));
                }
            }
        }
    }
    // Documented, so mounted: no stale entries.
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            if METHODS.contains(&method.as_str())
                && !ROUTES.iter().any(|r| r.path == path && r.method == method)
            {
                wrong.push(format!("{method} {path} is documented but not mounted"));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    assert!(ROUTES.len() > 30, "the table lists {} routes", ROUTES.len());
}

/// An operation's `security`: `None` when it asks for no login, else
/// whether the login is optional (an empty requirement beside it).
fn login(op: &Json) -> Option<(bool, Vec<String>)> {
    let reqs = op["security"].as_array()?;
    let optional = reqs
        .iter()
        .any(|r| r.as_object().is_some_and(|o| o.is_empty()));
    let schemes = reqs
        .iter()
        .flat_map(|r| r.as_object().into_iter().flat_map(|o| o.keys().cloned()))
        .collect();
    Some((optional, schemes))
}

/// Each route called without a token: those documented with a required
/// login answer `401 missing_token` (and document that 401); the others
/// answer without asking for one.
#[test]
fn the_documented_logins_are_what_the_server_asks_for() {
    let b = Backend::sqlite();
    let s = TestServer::start(&b);
    let doc = document(&s);
    let mut wrong = Vec::new();
    for r in ROUTES {
        let op = operation(&doc, r.path, r.method);
        let path = r.path.split('/').fold(String::new(), |mut acc, seg| {
            if !acc.is_empty() || !seg.is_empty() {
                acc.push('/');
            }
            acc.push_str(if seg.starts_with('{') { "1" } else { seg });
            acc
        });
        let req = ureq::request(&r.method.to_uppercase(), &s.url(&path));
        let (status, body) = if r.method == "get" {
            s.call(req, None)
        } else {
            s.call(req, Some(json!({})))
        };
        match login(op) {
            Some((false, schemes)) => {
                if schemes != ["bearer"] {
                    wrong.push(format!("{} {}: security {schemes:?}", r.method, r.path));
                }
                if status != 401 || body["code"] != "missing_token" {
                    wrong.push(format!(
                        "{} {} documents a login, but without a token it answered {status} {body}",
                        r.method, r.path
                    ));
                }
                if op["responses"]["401"].is_null() {
                    wrong.push(format!(
                        "{} {}: its 401 is not documented",
                        r.method, r.path
                    ));
                }
            }
            Some((true, _)) | None => {
                if status == 401 {
                    wrong.push(format!(
                        "{} {} documents no login required, but it answered 401 {body}",
                        r.method, r.path
                    ));
                }
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    // The viewer is not an API route: it is the one thing mounted outside
    // the table. It works offline: nothing in its page or its set-up names
    // another host, and it reads this server's document.
    let page = ureq::get(&s.url("/docs")).call().unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.content_type().starts_with("text/html"));
    let html = page.into_string().unwrap();
    assert!(html.contains("swagger-ui"), "{html}");
    let setup = ureq::get(&s.url("/docs/swagger-initializer.js"))
        .call()
        .unwrap()
        .into_string()
        .unwrap();
    assert!(setup.contains("\"/openapi.json\""), "{setup}");
    assert!(setup.contains("\"validatorUrl\": \"none\""), "{setup}");
    for text in [&html, &setup] {
        assert!(
            !text.contains("http://") && !text.contains("https://"),
            "the viewer loads something from elsewhere: {text}"
        );
    }
    let (st, _) = s.call(ureq::get(&s.url("/docs/swagger-ui-bundle.js")), None);
    assert_eq!(st, 200);
}

fn schema<'a>(doc: &'a Json, name: &str) -> &'a Json {
    let s = &doc["components"]["schemas"][name];
    assert!(s.is_object(), "no schema {name}");
    s
}

fn names(v: &Json) -> BTreeSet<&str> {
    match v {
        Json::Array(a) => a.iter().filter_map(Json::as_str).collect(),
        Json::Object(o) => o.keys().map(String::as_str).collect(),
        _ => BTreeSet::new(),
    }
}

/// What PROTOCOL.md and ACCESS.md left to the reader is in the document.
#[test]
fn the_document_holds_the_shapes_a_client_needs() {
    let b = Backend::sqlite();
    let s = TestServer::start(&b);
    let doc = document(&s);
    let error = schema(&doc, "ErrorBody");
    assert_eq!(names(&error["properties"]), ["code", "message"].into());
    assert_eq!(names(&error["required"]), ["code", "message"].into());
    for name in [
        "RecordOut",
        "RecordDetail",
        "HistoryItem",
        "ListOut",
        "ConflictsOut",
        "QuarantineOut",
        "Quarantined",
        "Decision",
        "NodesOut",
        "OrgNode",
        "UsersOut",
        "UserOut",
        "SweepOut",
        "CasesOut",
        "LoginOut",
        "TokenPair",
        "DeviceOut",
        "UploadOut",
        "Rules",
        "SummaryReport",
        "Change",
        "Op",
        "StoredRecord",
        "FieldValue",
        "Clock",
        "Actor",
        "Seq",
        "Schema",
    ] {
        schema(&doc, name);
    }
    // The bodies of POST /v1/users and PATCH /v1/users/{id}.
    let every = ["username", "full_name", "password", "role", "node"];
    let new_user = schema(&doc, "NewUserBody");
    assert_eq!(names(&new_user["required"]), every.into());
    assert_eq!(names(&new_user["properties"]), every.into());
    let changes = schema(&doc, "UserChangesBody");
    assert_eq!(
        names(&changes["properties"]),
        ["full_name", "role", "node", "disabled", "password"].into()
    );
    assert!(names(&changes["required"]).is_empty());
    let body = &operation(&doc, "/v1/users", "post")["requestBody"]["content"]["application/json"];
    assert_eq!(body["schema"]["$ref"], "#/components/schemas/NewUserBody");
    // The sync exchange.
    let request = &operation(&doc, "/v1/sync", "post")["requestBody"]["content"]
        ["application/json"]["schema"]["$ref"];
    let request = schema(&doc, request.as_str().unwrap().rsplit('/').next().unwrap());
    assert_eq!(
        names(&request["properties"]),
        [
            "actor",
            "batch",
            "cursor",
            "resume",
            "grids",
            "changes",
            "limit",
            "pull",
            "inbox_digest"
        ]
        .into()
    );
    // Field types are spelled as PROTOCOL.md spells them.
    let types: BTreeSet<String> = schema(&doc, "ScalarType")["oneOf"]
        .as_array()
        .unwrap()
        .iter()
        // A variant with flattened parts (an enum's choices) is an `allOf`.
        .flat_map(|v| {
            std::iter::once(v)
                .chain(v["allOf"].as_array().into_iter().flatten())
                .flat_map(|p| names(&p["properties"]["type"]["enum"]))
        })
        .map(str::to_owned)
        .collect();
    for t in [
        "text",
        "integer",
        "decimal",
        "bool",
        "date",
        "datetime",
        "enum",
        "ref",
        "geo",
        "attachment",
    ] {
        assert!(types.contains(t), "{t} not in {types:?}");
    }
    assert!(!types.contains("date_time"));
    // The generated document names no type the protocol does not.
    assert!(doc["components"]["schemas"]["u32"].is_null());
    assert!(doc["components"]["schemas"]["u64"].is_null());
}

// ---------------------------------------------------------------- live shapes

/// One alternative of a schema: its `$ref`s followed, its `allOf` parts
/// merged, one branch of each `oneOf`.
#[derive(Debug, Clone, Default)]
struct Shape {
    types: Option<BTreeSet<String>>,
    props: BTreeMap<String, Json>,
    required: BTreeSet<String>,
    additional: Option<Json>,
    items: Option<Json>,
    values: Option<Vec<Json>>,
}

fn merge(a: &Shape, b: &Shape) -> Shape {
    let mut m = a.clone();
    m.types = match (&a.types, &b.types) {
        (Some(x), Some(y)) => Some(x.intersection(y).cloned().collect()),
        (x, y) => x.clone().or_else(|| y.clone()),
    };
    for (k, v) in &b.props {
        m.props.entry(k.clone()).or_insert_with(|| v.clone());
    }
    m.required.extend(b.required.iter().cloned());
    m.additional = a.additional.clone().or_else(|| b.additional.clone());
    m.items = a.items.clone().or_else(|| b.items.clone());
    m.values = a.values.clone().or_else(|| b.values.clone());
    m
}

fn shapes(doc: &Json, schema: &Json, depth: usize) -> Vec<Shape> {
    assert!(depth < 32, "schema nested too deep: {schema}");
    if let Some(r) = schema["$ref"].as_str() {
        let name = r.strip_prefix("#/components/schemas/").unwrap();
        let target = &doc["components"]["schemas"][name];
        assert!(target.is_object(), "dangling {r}");
        return shapes(doc, target, depth + 1);
    }
    let strings = |v: &Json| -> BTreeSet<String> {
        match v {
            Json::String(s) => [s.clone()].into(),
            other => names(other).into_iter().map(str::to_owned).collect(),
        }
    };
    let own = Shape {
        types: schema.get("type").map(strings),
        props: schema["properties"]
            .as_object()
            .map(|p| p.clone().into_iter().collect())
            .unwrap_or_default(),
        required: strings(&schema["required"]),
        additional: schema.get("additionalProperties").cloned(),
        items: schema.get("items").cloned(),
        values: schema["enum"].as_array().cloned(),
    };
    let mut alternatives = vec![own];
    let mut join = |options: Vec<Shape>| {
        alternatives = alternatives
            .iter()
            .flat_map(|a| options.iter().map(move |o| merge(a, o)))
            .collect();
    };
    for part in schema["allOf"].as_array().into_iter().flatten() {
        join(shapes(doc, part, depth + 1));
    }
    for key in ["oneOf", "anyOf"] {
        if let Some(branches) = schema[key].as_array() {
            join(
                branches
                    .iter()
                    .flat_map(|b| shapes(doc, b, depth + 1))
                    .collect(),
            );
        }
    }
    alternatives
}

fn json_type(v: &Json) -> &'static str {
    match v {
        Json::Null => "null",
        Json::Bool(_) => "boolean",
        Json::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Json::Number(_) => "number",
        Json::String(_) => "string",
        Json::Array(_) => "array",
        Json::Object(_) => "object",
    }
}

/// Whether `value` has the documented shape: the right JSON types and
/// enum members, every required key, and no key the schema does not name
/// (stricter than JSON Schema: an undocumented key is drift).
fn conforms(doc: &Json, schema: &Json, value: &Json, at: &str) -> Result<(), String> {
    let options = shapes(doc, schema, 0);
    let mut errors = Vec::new();
    for shape in &options {
        match fits(doc, shape, value, at) {
            Ok(()) => return Ok(()),
            Err(e) => errors.push(e),
        }
    }
    errors.sort_by_key(|e| e.len());
    Err(match errors.len() {
        1 => errors.remove(0),
        n => format!(
            "{at}: none of {n} alternatives fits; nearest: {}",
            errors[0]
        ),
    })
}

fn fits(doc: &Json, shape: &Shape, value: &Json, at: &str) -> Result<(), String> {
    let t = json_type(value);
    if let Some(types) = &shape.types {
        let number = t == "integer" && types.contains("number");
        if !(types.contains(t) || number) {
            return Err(format!("{at}: {t} where the document says {types:?}"));
        }
    }
    if let Some(values) = &shape.values {
        if !values.contains(value) {
            return Err(format!("{at}: {value} is not one of {values:?}"));
        }
    }
    match value {
        Json::Object(map) => {
            for key in &shape.required {
                if !map.contains_key(key) {
                    return Err(format!(
                        "{at}: `{key}` is documented as required, and absent"
                    ));
                }
            }
            for (key, v) in map {
                let here = format!("{at}.{key}");
                match (shape.props.get(key), &shape.additional) {
                    (Some(s), _) => conforms(doc, s, v, &here)?,
                    (None, Some(Json::Bool(true))) => {}
                    (None, Some(s)) if s.is_object() => conforms(doc, s, v, &here)?,
                    (None, None) if shape.props.is_empty() => {}
                    _ => return Err(format!("{here}: a key the document does not name")),
                }
            }
        }
        Json::Array(items) => {
            if let Some(s) = &shape.items {
                for (i, item) in items.iter().enumerate().take(50) {
                    conforms(doc, s, item, &format!("{at}[{i}]"))?;
                }
            }
        }
        _ => {}
    }
    Ok(())
}

/// Collects every mismatch between live answers and the document.
struct Checker<'a> {
    doc: &'a Json,
    wrong: Vec<String>,
    seen: BTreeSet<String>,
}

impl Checker<'_> {
    /// `body` answered `status` to `method path` (a path of the table):
    /// the documented answer for that status must fit it.
    fn answer(&mut self, method: &str, path: &str, status: u16, body: &Json) {
        self.seen.insert(format!("{method} {path}"));
        let res = &operation(self.doc, path, method)["responses"][status.to_string()];
        let Some(schema) = res["content"]["application/json"].get("schema") else {
            self.wrong.push(format!(
                "{method} {path}: {status} is not documented as JSON: {body}"
            ));
            return;
        };
        if let Err(e) = conforms(self.doc, schema, body, &format!("{method} {path} {status}")) {
            self.wrong.push(e);
        }
    }

    /// A request body sent to `method path` must fit what is documented.
    fn request(&mut self, method: &str, path: &str, body: &Json) {
        let schema = &operation(self.doc, path, method)["requestBody"]["content"]
            ["application/json"]["schema"];
        if let Err(e) = conforms(self.doc, schema, body, &format!("{method} {path} request")) {
            self.wrong.push(e);
        }
    }
}

/// Calls most of the API, as an admin, a supervisor and two phones, and
/// checks each answer (errors included) and each request body against the
/// document. The bodies built by hand (errors, rules, reports) are checked
/// here against their documentation-only schemas.
fn live_answers_have_the_documented_shapes(b: &Backend) {
    let s = TestServer::start(b);
    let doc = document(&s);
    let mut c = Checker {
        doc: &doc,
        wrong: Vec::new(),
        seen: BTreeSet::new(),
    };
    let admin = s.admin_token();
    let chief = s.supervisor_token();
    let get = |token: &str, path: &str| s.get_as(token, path);
    let send = |method: &str, token: &str, path: &str, body: Json| {
        s.call(
            s.authed(ureq::request(method, &s.url(path)), token),
            Some(body),
        )
    };

    for path in ["/healthz", "/readyz", "/v1/schema"] {
        let (st, body) = s.call(ureq::get(&s.url(path)), None);
        c.answer("get", path, st, &body);
    }

    // Accounts, devices, the org tree.
    let login = json!({"username": ADMIN, "password": PASSWORD});
    c.request("post", "/v1/auth/login", &login);
    let (st, body) = s.call(ureq::post(&s.url("/v1/auth/login")), Some(login));
    c.answer("post", "/v1/auth/login", st, &body);
    let (st, body) = s.call(
        ureq::post(&s.url("/v1/auth/login")),
        Some(json!({"username": ADMIN, "password": "wrong password"})),
    );
    assert_eq!(st, 401);
    c.answer("post", "/v1/auth/login", st, &body);
    let refresh = json!({"refresh_token": body_str(&s.login(ADMIN, PASSWORD), "refresh_token")});
    c.request("post", "/v1/auth/refresh", &refresh);
    let (st, body) = s.call(ureq::post(&s.url("/v1/auth/refresh")), Some(refresh));
    c.answer("post", "/v1/auth/refresh", st, &body);

    let node = json!({"code": "g9", "parent": "c1", "level": "grid", "name": "九号网格"});
    c.request("post", "/v1/org/nodes", &node);
    let (st, body) = send("POST", &admin, "/v1/org/nodes", node);
    assert_eq!(st, 201, "{body}");
    c.answer("post", "/v1/org/nodes", st, &body);
    let (st, body) = send("PATCH", &admin, "/v1/org/nodes/g9", json!({"name": "九号"}));
    c.answer("patch", "/v1/org/nodes/{code}", st, &body);
    let (st, body) = get(&admin, "/v1/org/nodes");
    c.answer("get", "/v1/org/nodes", st, &body);

    let user = json!({"username": "mediator9", "full_name": "调解员", "password": PASSWORD,
        "role": "mediator", "node": "c1"});
    c.request("post", "/v1/users", &user);
    let (st, body) = send("POST", &admin, "/v1/users", user);
    assert_eq!(st, 201, "{body}");
    c.answer("post", "/v1/users", st, &body);
    let id = body["id"].as_i64().unwrap();
    let change = json!({"full_name": "调解员九", "disabled": false});
    c.request("patch", "/v1/users/{id}", &change);
    let (st, body) = send("PATCH", &admin, &format!("/v1/users/{id}"), change);
    c.answer("patch", "/v1/users/{id}", st, &body);
    let (st, body) = send("POST", &admin, "/v1/users", json!({"username": "x"}));
    assert_eq!(st, 400);
    c.answer("post", "/v1/users", st, &body);
    let (st, body) = get(&admin, "/v1/users");
    c.answer("get", "/v1/users", st, &body);

    // Two phones: a record, a conflict, a change refused into the quarantine.
    let mut a = Phone::enroll(&s, "worker9a", "grid_worker", "c1", &[GRID]);
    let mut other = Phone::enroll(&s, "worker9b", "grid_worker", "c1", &[GRID]);
    let mut moved = Phone::enroll(&s, "worker9c", "grid_worker", "g1", &["g1"]);
    let event = Uuid::new_v4();
    a.make(|d| {
        d.create("event", GRID, event)
            .set("title", "楼道堆放杂物")
            .set("status", "reported")
            .add("tags", "night")
            .increment("report_count", 1)
            .commit()
    });
    // Due in 72 hours: the sweep below, years later, escalates it.
    a.make(|d| {
        d.create("event", GRID, Uuid::new_v4())
            .set("title", "路灯不亮")
            .set("severity", "high")
            .set("status", "reported")
            .commit()
    });
    a.sync(&s);
    let first = json!({"actor": other.actor(), "grids": [GRID], "limit": 10});
    c.request("post", "/v1/sync", &first);
    let (st, body) = s.sync(&other.token, first);
    assert!(!body["records"].as_array().unwrap().is_empty(), "{body}");
    c.answer("post", "/v1/sync", st, &body);
    other.sync(&s);
    a.make(|d| d.edit(event).set("status", "accepted").commit());
    other.make(|d| d.edit(event).set("status", "rejected").commit());
    a.sync(&s);
    let pushed: Vec<Json> = other
        .outbox
        .iter()
        .map(|ch| serde_json::to_value(ch).unwrap())
        .collect();
    let push = json!({"actor": other.actor(), "cursor": other.cursor, "grids": [GRID],
        "changes": pushed});
    c.request("post", "/v1/sync", &push);
    let (st, body) = s.sync(&other.token, push);
    assert!(!body["changes"].as_array().unwrap().is_empty(), "{body}");
    c.answer("post", "/v1/sync", st, &body);
    moved.make(|d| {
        d.create("event", GRID, Uuid::new_v4())
            .set("status", "reported")
            .commit()
    });
    assert_eq!(moved.sync(&s)[0]["status"], "refused");
    let (st, body) = s.sync(&a.token, json!({"actor": a.actor(), "cursor": 7}));
    assert_eq!(st, 400);
    c.answer("post", "/v1/sync", st, &body);

    // Reading the merged state.
    let (st, body) = get(&chief, &format!("/v1/grids/{GRID}/records?limit=1"));
    assert!(body["next"].is_string(), "{body}");
    c.answer("get", "/v1/grids/{grid}/records", st, &body);
    let (st, body) = get(&chief, &format!("/v1/records/{event}?grid={GRID}"));
    assert!(!body["history"].as_array().unwrap().is_empty(), "{body}");
    c.answer("get", "/v1/records/{id}", st, &body);
    let (st, body) = get(&chief, "/v1/records/not-a-uuid");
    assert_eq!(st, 400);
    c.answer("get", "/v1/records/{id}", st, &body);
    let (st, body) = get(&chief, &format!("/v1/grids/{GRID}/conflicts"));
    assert!(!body["records"].as_array().unwrap().is_empty(), "{body}");
    c.answer("get", "/v1/grids/{grid}/conflicts", st, &body);
    let (st, body) = get(&a.token, "/v1/grids/other-grid/conflicts");
    assert_eq!(st, 403);
    c.answer("get", "/v1/grids/{grid}/conflicts", st, &body);
    let (st, body) = get(&chief, "/v1/nodes/c1/cases");
    c.answer("get", "/v1/nodes/{code}/cases", st, &body);
    let (st, body) = get(&chief, "/v1/quarantine");
    let quarantined = body["changes"][0]["id"].as_i64().unwrap();
    c.answer("get", "/v1/quarantine", st, &body);
    let (st, body) = send(
        "POST",
        &chief,
        &format!("/v1/quarantine/{quarantined}/reject"),
        json!({}),
    );
    c.answer("post", "/v1/quarantine/{id}/reject", st, &body);
    let (st, body) = send(
        "POST",
        &chief,
        &format!("/v1/quarantine/{quarantined}/accept"),
        json!({}),
    );
    assert_eq!(st, 409);
    c.answer("post", "/v1/quarantine/{id}/accept", st, &body);

    // Cases, the sweep, reports, the audit log, devices.
    let (st, body) = get(&chief, "/v1/rules");
    c.answer("get", "/v1/rules", st, &body);
    let sweep = json!({"at": "2030-01-01T00:00:00+08:00"});
    c.request("post", "/v1/admin/sweep", &sweep);
    let (st, body) = send("POST", &admin, "/v1/admin/sweep", sweep);
    assert!(!body["results"].as_array().unwrap().is_empty(), "{body}");
    c.answer("post", "/v1/admin/sweep", st, &body);
    for report in ["summary", "patrol", "overdue", "ranking", "brief"] {
        let path = format!("/v1/reports/{report}");
        let (st, body) = get(&chief, &format!("{path}?node=c1"));
        c.answer("get", &path, st, &body);
    }
    let (st, body) = get(&chief, "/v1/reports/summary?period=fortnight");
    assert_eq!(st, 400);
    c.answer("get", "/v1/reports/summary", st, &body);
    let (st, body) = get(&admin, "/v1/audit");
    assert!(!body["entries"].as_array().unwrap().is_empty(), "{body}");
    c.answer("get", "/v1/audit", st, &body);
    let (st, body) = get(&admin, "/v1/devices");
    c.answer("get", "/v1/devices", st, &body);
    let (st, body) = send(
        "POST",
        &admin,
        &format!("/v1/devices/{}/revoke", moved.device_id),
        json!({}),
    );
    c.answer("post", "/v1/devices/{id}/revoke", st, &body);
    let (st, body) = get(&moved.token, "/v1/devices");
    assert_eq!(st, 401);
    c.answer("get", "/v1/devices", st, &body);
    let device = json!({"name": "备用手机"});
    c.request("post", "/v1/devices", &device);
    let (st, body) = send("POST", &a.token, "/v1/devices", device);
    c.answer("post", "/v1/devices", st, &body);

    assert!(c.wrong.is_empty(), "{}", c.wrong.join("\n"));
    assert!(c.seen.len() >= 25, "{:?}", c.seen);
}

fn body_str(v: &Json, key: &str) -> String {
    v[key].as_str().unwrap().to_owned()
}
