//! The dashboard's second version through HTTP on both backends, against the
//! hand-counted district of `report_fixture`: the trend, the charts (SVG read
//! as XML, labels from the schema and the org tree), the map (points and
//! grid outlines), search with masking, and node names in report tables.

mod common;
mod report_fixture;

use chrono::Duration;
use common::{on_both_backends, Backend, TestServer, PASSWORD};
use report_fixture::{around, fixture, today};
use serde_json::Value as Json;

on_both_backends!(
    the_trend_counts_cases_per_day_and_week,
    charts_are_svg_with_names_values_and_axes,
    the_map_has_the_positions_and_outlines,
    search_finds_by_title_address_and_name_masked,
    report_tables_name_their_nodes,
);

fn get_as(s: &TestServer, token: &str, path: &str) -> (u16, Json) {
    s.get_as(token, path)
}

fn token(s: &TestServer, user: &str) -> String {
    s.login(user, PASSWORD)["access_token"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn the_trend_counts_cases_per_day_and_week(b: &Backend) {
    let s = TestServer::start(b);
    fixture(&s);
    let t = today();
    let r = s.get(&format!("/v1/reports/trend?node=d&{}", around()));
    assert_eq!(r["report"], "trend");
    assert_eq!(r["by"], "day");
    let days: Vec<(String, i64, i64, i64)> = r["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            (
                b["first_day"].as_str().unwrap().to_owned(),
                b["reported"].as_i64().unwrap(),
                b["closed"].as_i64().unwrap(),
                b["overdue"].as_i64().unwrap(),
            )
        })
        .collect();
    // Nine cases reported today (e1–e5, h1, dp1, dp2, pt), two closed (e3,
    // dp2); none fell due in these three days.
    let day = |d: chrono::NaiveDate, r, c| (d.to_string(), r, c, 0);
    assert_eq!(
        days,
        [
            day(t - Duration::days(1), 0, 0),
            day(t, 9, 2),
            day(t + Duration::days(1), 0, 0),
        ]
    );
    // Over the year to today, by week: the three open cases past their
    // deadline (e2 on 2026-01-01, pt and dp1 this autumn) fell due in it.
    let from = t - Duration::days(365);
    let r = s.get(&format!(
        "/v1/reports/trend?node=d&from={from}&to={t}&by=week"
    ));
    assert_eq!(r["by"], "week");
    assert_eq!(
        [
            &r["totals"]["reported"],
            &r["totals"]["closed"],
            &r["totals"]["overdue"]
        ],
        [&Json::from(9), &Json::from(2), &Json::from(3)]
    );
    let buckets = r["buckets"].as_array().unwrap();
    assert!(
        buckets.len() >= 52 && buckets.len() <= 54,
        "{}",
        buckets.len()
    );
    let sum: i64 = buckets.iter().map(|b| b["overdue"].as_i64().unwrap()).sum();
    assert_eq!(sum, 3);
    let last = buckets.last().unwrap();
    assert_eq!(last["last_day"], t.to_string());
    assert_eq!(last["reported"], 9);
    // Park p2 holds only the hazard.
    let r = s.get(&format!("/v1/reports/trend?node=p2&{}", around()));
    assert_eq!(r["totals"]["reported"], 1);
    // Without a period: the 30 days up to today.
    let r = s.get("/v1/reports/trend?node=d");
    assert_eq!(r["buckets"].as_array().unwrap().len(), 30);
    assert_eq!(r["period"]["last_day"], t.to_string());

    let sup = s.supervisor_token();
    for (q, code) in [
        ("by=month", "invalid_query"),
        ("from=2026-02-01", "invalid_period"),
        ("limit=3", "invalid_query"),
    ] {
        let (st, body) = get_as(&s, &sup, &format!("/v1/reports/trend?node=d&{q}"));
        assert_eq!((st, body["code"].as_str().unwrap()), (400, code), "{q}");
    }
    let (st, body) = get_as(&s, &token(&s, "w1"), "/v1/reports/trend");
    assert_eq!((st, body["code"].as_str().unwrap()), (403, "forbidden"));
    let p1 = token(&s, "sup");
    let (st, body) = get_as(&s, &p1, "/v1/reports/trend?node=p2");
    assert_eq!((st, body["code"].as_str().unwrap()), (403, "out_of_scope"));
    let (st, body) = get_as(&s, &p1, "/v1/reports/trend?node=nowhere");
    assert_eq!((st, body["code"].as_str().unwrap()), (404, "not_found"));
}

/// The texts of an SVG document, read as XML (a malformed one fails).
fn svg_texts(svg: &str) -> Vec<String> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(svg);
    let mut out = Vec::new();
    let mut in_text = false;
    let mut root = None;
    loop {
        match reader.read_event().expect("the SVG is well-formed XML") {
            Event::Start(e) => {
                let name = e.name().as_ref().to_owned();
                root.get_or_insert(name.clone());
                in_text = name == "text";
                if in_text {
                    out.push(String::new());
                }
            }
            Event::Text(t) if in_text => {
                out.last_mut().unwrap().push_str(&t.xml10_content());
            }
            Event::GeneralRef(r) if in_text => {
                let c = match r.as_ref() {
                    "amp" => "&",
                    "lt" => "<",
                    "gt" => ">",
                    "quot" => "\"",
                    "apos" => "'",
                    other => panic!("entity {other}"),
                };
                out.last_mut().unwrap().push_str(c);
            }
            Event::End(_) => in_text = false,
            Event::Eof => break,
            _ => {}
        }
    }
    assert_eq!(root.as_deref(), Some("svg"));
    out.into_iter().map(|t| t.trim().to_owned()).collect()
}

fn chart(s: &TestServer, token: &str, q: &str) -> (u16, String, String) {
    let r = ureq::get(&s.url(&format!("/v1/reports/chart.svg?{q}")))
        .set("Authorization", &format!("Bearer {token}"))
        .call();
    match r {
        Ok(r) => (
            r.status(),
            r.header("Content-Type").unwrap_or_default().to_owned(),
            r.into_string().unwrap(),
        ),
        Err(ureq::Error::Status(st, r)) => (st, String::new(), r.into_string().unwrap()),
        Err(e) => panic!("{e}"),
    }
}

fn charts_are_svg_with_names_values_and_axes(b: &Backend) {
    let s = TestServer::start(b);
    fixture(&s);
    let sup = s.supervisor_token();
    let a = around();
    let schema = gridsync_core::Schema::current();

    // Community c1 per grid, by full name, each with its figure.
    let (st, kind, svg) = chart(&s, &sup, &format!("chart=nodes&node=c1&{a}"));
    assert_eq!(st, 200, "{svg}");
    assert!(kind.starts_with("image/svg+xml"), "{kind}");
    let t = svg_texts(&svg);
    for name in [
        "node g1",
        "node g2",
        "node g-bad",
        "node 420203-001-003-012",
    ] {
        assert_eq!(
            t.iter().filter(|x| *x == name).count(),
            1,
            "{name} in {t:?}"
        );
    }
    // g1 holds 10 records, g2 4 (as the summary counts): values on the bars,
    // and the value axis to 20.
    assert!(
        t.contains(&"10".to_owned()) && t.contains(&"4".to_owned()),
        "{t:?}"
    );
    assert!(t.contains(&"20".to_owned()), "{t:?}");
    assert!(t.iter().any(|x| x.starts_with("node c1 · 在册")), "{t:?}");

    // Event categories by the schema's words, not codes.
    let (_, _, svg) = chart(
        &s,
        &sup,
        &format!("chart=categories&collection=event&metric=records&node=d&{a}"),
    );
    let t = svg_texts(&svg);
    let fire = schema
        .value_label("event", "category", "fire_safety")
        .unwrap()
        .zh;
    let i = t
        .iter()
        .position(|x| x == fire)
        .expect("fire_safety's label");
    assert!(!t.iter().any(|x| x == "fire_safety"), "{t:?}");
    assert!(t.contains(&"3".to_owned()));
    assert!(i > 0);

    // Open records by collection, in English.
    let (_, _, svg) = chart(
        &s,
        &sup,
        &format!("chart=collections&metric=open&node=d&{a}&lang=en"),
    );
    let t = svg_texts(&svg);
    assert!(t.contains(
        &schema
            .collection("patrol_round")
            .unwrap()
            .label
            .en
            .to_owned()
    ));
    assert!(t.contains(&"Open".to_owned()), "{t:?}");

    // Patrol coverage per grid, in percent: g1 2 of 4, g2 none.
    let (_, _, svg) = chart(&s, &sup, &format!("chart=patrol&node=c1&{a}"));
    let t = svg_texts(&svg);
    for want in ["node g1", "node g2", "50%", "0%", "100%"] {
        assert!(t.contains(&want.to_owned()), "{want} in {t:?}");
    }

    // The trend: three lines, each day's values.
    let (_, _, svg) = chart(&s, &sup, &format!("chart=trend&node=d&{a}"));
    let t = svg_texts(&svg);
    let today = today().format("%m-%d").to_string();
    for want in ["上报", "办结", "超期", "件数", today.as_str(), "9", "2"] {
        assert!(t.contains(&want.to_owned()), "{want} in {t:?}");
    }
    assert!(svg.contains("<polyline"));

    for (q, st, code) in [
        ("chart=pie", 400, "invalid_query"),
        ("chart=categories", 400, "invalid_query"),
        (
            "chart=categories&collection=nope",
            400,
            "unknown_collection",
        ),
        ("chart=nodes&metric=score", 400, "invalid_query"),
        ("chart=trend&metric=open", 400, "invalid_query"),
        ("chart=nodes&by=week", 400, "invalid_query"),
        ("chart=nodes&lang=fr", 400, "invalid_query"),
        ("chart=nodes&period=year", 400, "invalid_period"),
        ("chart=nodes&node=nowhere", 404, "not_found"),
    ] {
        let (got, _, body) = chart(&s, &sup, q);
        let body: Json = serde_json::from_str(&body).unwrap();
        assert_eq!((got, body["code"].as_str().unwrap()), (st, code), "{q}");
    }
    let (got, _, _) = chart(&s, &token(&s, "w1"), "chart=nodes");
    assert_eq!(got, 403);
}

fn the_map_has_the_positions_and_outlines(b: &Backend) {
    let s = TestServer::start(b);
    let f = fixture(&s);
    let r = s.get("/v1/reports/map?node=d");
    assert_eq!(r["total"], 6);
    assert_eq!(r["sampled"], false);
    let points = r["points"].as_array().unwrap();
    let mut ids: Vec<&str> = points.iter().map(|p| p["id"].as_str().unwrap()).collect();
    ids.sort_unstable();
    let mut want: Vec<String> = [f.e1, f.e2, f.e5, f.pl1, f.pl2, f.h1]
        .iter()
        .map(|u| u.to_string())
        .collect();
    want.sort_unstable();
    assert_eq!(ids, want);
    let e1 = points.iter().find(|p| p["id"] == f.e1.to_string()).unwrap();
    assert_eq!(e1["collection"], "event");
    assert_eq!(e1["title"], "消防通道堵塞");
    assert_eq!(e1["status"], "reported");
    assert_eq!(
        (e1["lat"].as_f64(), e1["lon"].as_f64()),
        (Some(30.50), Some(114.40))
    );
    assert_eq!(e1["open"], true);
    let e2 = points.iter().find(|p| p["id"] == f.e2.to_string()).unwrap();
    assert_eq!(e2["overdue"], true);
    // g1: a square with e5 inside, counter-clockwise; g3: h1 alone.
    let grids = r["grids"].as_array().unwrap();
    assert_eq!(grids.len(), 2);
    assert_eq!(grids[0]["code"], "g1");
    assert_eq!(grids[0]["name"], "node g1");
    assert_eq!(grids[0]["points"], 5);
    let outline: Vec<(f64, f64)> = grids[0]["outline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p[0].as_f64().unwrap(), p[1].as_f64().unwrap()))
        .collect();
    assert_eq!(
        outline,
        [
            (30.50, 114.40),
            (30.50, 114.41),
            (30.51, 114.41),
            (30.51, 114.40)
        ]
    );
    assert_eq!(grids[1]["code"], "g3");
    assert_eq!(grids[1]["outline"], serde_json::json!([[30.60, 114.50]]));
    assert_eq!(r["bounds"]["min_lat"], 30.50);
    assert_eq!(r["bounds"]["max_lon"], 114.50);
    // A community: its own grids only. A sample when asked for fewer.
    let r = s.get("/v1/reports/map?node=c1");
    assert_eq!(r["total"], 5);
    let r = s.get("/v1/reports/map?node=d&limit=2");
    assert_eq!(
        (r["points"].as_array().unwrap().len(), &r["sampled"]),
        (2, &Json::Bool(true))
    );
    assert_eq!(r["grids"].as_array().unwrap().len(), 2);
    let r = s.get("/v1/reports/map?node=c2");
    assert_eq!(r["total"], 1);
    let (st, body) = get_as(&s, &s.supervisor_token(), "/v1/reports/map?limit=0");
    assert_eq!((st, body["code"].as_str().unwrap()), (400, "invalid_query"));
}

fn hits(r: &Json) -> Vec<(String, String)> {
    r["hits"]
        .as_array()
        .unwrap_or_else(|| panic!("{r}"))
        .iter()
        .map(|h| {
            (
                h["id"].as_str().unwrap().to_owned(),
                h["title"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn search_finds_by_title_address_and_name_masked(b: &Backend) {
    let s = TestServer::start(b);
    let f = fixture(&s);
    let sup = s.supervisor_token();
    let w1 = token(&s, "w1");
    let w2 = token(&s, "w2");
    let search = |t: &str, q: &str| {
        let (st, body) = get_as(&s, t, &format!("/v1/search?{q}"));
        assert_eq!(st, 200, "{q}: {body}");
        body
    };
    let e1 = (f.e1.to_string(), "消防通道堵塞".to_owned());
    // By title, by address (ASCII letters in any case), as a worker and a supervisor.
    for t in [&sup, &w1] {
        assert_eq!(
            hits(&search(t, "q=%E9%80%9A%E9%81%93")),
            std::slice::from_ref(&e1)
        ); // 通道
        let r = search(t, "q=b%E6%A0%8B"); // b栋
        assert_eq!(hits(&r), std::slice::from_ref(&e1));
        assert_eq!(r["hits"][0]["matched"], serde_json::json!(["address"]));
        assert_eq!(r["hits"][0]["grid_name"], "node g1");
    }
    let r = search(&sup, "q=%E6%98%9F%E5%85%89ktv"); // 星光ktv
    assert_eq!(hits(&r), [(f.pl1.to_string(), "星光KTV".to_owned())]);
    // Out of the worker's reach: g3's hazard is not w1's; e1 is not w2's.
    assert!(hits(&search(&w2, "q=%E6%B6%88%E9%98%B2")).is_empty());
    // LIKE's wildcards are plain characters here.
    assert!(hits(&search(&sup, "q=%25")).is_empty());
    assert!(hits(&search(&sup, "q=_")).is_empty());

    // A key person: the supervisor sees the name and finds them by ID number;
    // the worker sees the name masked in the title and the ID number masked,
    // and the full ID number finds nothing.
    let id = "420202199001011231";
    let r = search(&sup, &format!("q={id}"));
    assert_eq!(hits(&r), [(f.kp.to_string(), "张三".to_owned())]);
    assert_eq!(r["hits"][0]["matched"], serde_json::json!(["id_number"]));
    assert_eq!(r["hits"][0]["fields"]["id_number"], id);
    assert!(hits(&search(&w1, &format!("q={id}"))).is_empty());
    assert!(hits(&search(&w1, "q=19900101")).is_empty());
    let r = search(&w1, "q=%E5%BC%A0%E4%B8%89"); // 张三
    assert_eq!(hits(&r), [(f.kp.to_string(), "张*".to_owned())]);
    assert_eq!(r["hits"][0]["fields"]["id_number"], "420202********1231");
    assert!(!r.to_string().contains(id));

    // Under a node, and the limits.
    assert!(hits(&search(&sup, "q=%E6%98%9F%E5%85%89&node=c2")).is_empty());
    let (st, body) = get_as(&s, &w2, "/v1/search?q=x&node=c1");
    assert_eq!((st, body["code"].as_str().unwrap()), (403, "out_of_scope"));
    for q in ["q=", "q=%20%20", "limit=3", "q=a&limit=0", "q=a%0Ab"] {
        let (st, body) = get_as(&s, &sup, &format!("/v1/search?{q}"));
        assert_eq!(
            (st, body["code"].as_str().unwrap()),
            (400, "invalid_query"),
            "{q}"
        );
    }
    let (st, body) = get_as(&s, &s.admin_token(), "/v1/search?q=a");
    assert_eq!((st, body["code"].as_str().unwrap()), (403, "forbidden"));
    // A grid's records point to search.
    let (st, body) = get_as(&s, &w1, "/v1/grids/g1/records?q=x");
    assert_eq!(st, 400);
    assert_eq!(body["code"], "invalid_query");
    assert!(
        body["message"].as_str().unwrap().contains("/v1/search"),
        "{body}"
    );
}

fn report_tables_name_their_nodes(b: &Backend) {
    let s = TestServer::start(b);
    fixture(&s);
    let a = around();
    let p = s.get(&format!("/v1/reports/patrol?node=c1&{a}"));
    for row in p["by_grid"].as_array().unwrap() {
        assert_eq!(
            row["grid_name"],
            format!("node {}", row["grid"].as_str().unwrap())
        );
    }
    for row in p["rounds"].as_array().unwrap() {
        assert_eq!(
            row["grid_name"],
            format!("node {}", row["grid"].as_str().unwrap())
        );
    }
    let o = s.get("/v1/reports/overdue?node=d");
    let cases = o["cases"].as_array().unwrap();
    assert!(!cases.is_empty());
    for row in cases {
        assert_eq!(
            row["grid_name"],
            format!("node {}", row["grid"].as_str().unwrap())
        );
    }
    let r = s.get(&format!("/v1/reports/ranking?node=d&{a}"));
    let w1 = r["grid_workers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["username"] == "w1")
        .unwrap();
    assert_eq!(
        (&w1["node"], &w1["node_name"]),
        (&Json::from("c1"), &Json::from("node c1"))
    );
    // And in the CSV: a column of names after the codes.
    let csv = ureq::get(&s.url(&format!("/v1/reports/patrol?node=c1&{a}&format=csv")))
        .set("Authorization", &format!("Bearer {}", s.supervisor_token()))
        .call()
        .unwrap()
        .into_string()
        .unwrap();
    let header = csv.lines().next().unwrap();
    assert!(header.contains("网格名称"), "{header}");
    assert!(csv.contains("node g1"), "{csv}");
}
