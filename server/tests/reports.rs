//! Supervisor reports through HTTP on both backends, against a small district
//! whose every figure is counted by hand in `fixture` below: the summary and
//! its roll-up, patrol coverage, the overdue lists, the rankings, the daily
//! brief, CSV and spreadsheet downloads (audited), and the identity rules.

mod common;
mod report_fixture;

use std::io::Read;

use chrono::Duration;
use common::{on_both_backends, Backend, TestServer};
use report_fixture::{around, fixture, today};
use serde_json::Value as Json;

on_both_backends!(
    the_summary_counts_what_was_done,
    patrol_overdue_ranking_and_brief,
    downloads_are_audited_and_scoped,
    the_kept_stock_follows_merges_deletes_and_sweeps,
);

fn figures(v: &Json) -> [i64; 9] {
    [
        "records",
        "open",
        "new",
        "closed",
        "overdue",
        "escalated",
        "conflicted",
        "newly_overdue",
        "due_soon",
    ]
    .map(|k| v[k].as_i64().unwrap_or_else(|| panic!("{k} in {v}")))
}

fn find<'a>(rows: &'a Json, key: &str, value: &str) -> &'a Json {
    rows.as_array()
        .unwrap()
        .iter()
        .find(|r| r[key] == value)
        .unwrap_or_else(|| panic!("no {key}={value} in {rows}"))
}

fn the_summary_counts_what_was_done(b: &Backend) {
    let s = TestServer::start(b);
    fixture(&s);
    let r = s.get(&format!("/v1/reports/summary?node=d&{}", around()));
    assert_eq!(r["report"], "summary");
    assert_eq!(r["node"]["code"], "d");
    assert_eq!(r["period"]["kind"], "range");
    assert_eq!(r["period"]["timezone"], "+08:00");
    // records open new closed overdue escalated conflicted newly_overdue due_soon
    assert_eq!(figures(&r["totals"]), [15, 12, 15, 3, 5, 1, 1, 0, 0]);
    let col = |c: &str| figures(find(&r["by_collection"], "collection", c));
    assert_eq!(col("event"), [5, 4, 5, 1, 1, 1, 0, 0, 0]);
    assert_eq!(col("key_person"), [1, 1, 1, 0, 1, 0, 0, 0, 0]);
    assert_eq!(col("place"), [2, 2, 2, 0, 1, 0, 1, 0, 0]);
    assert_eq!(col("petition"), [1, 1, 1, 0, 1, 0, 0, 0, 0]);
    assert_eq!(col("dispute"), [2, 1, 2, 1, 1, 0, 0, 0, 0]);
    assert_eq!(col("hazard"), [1, 1, 1, 0, 0, 0, 0, 0, 0]);
    assert_eq!(col("patrol_round"), [3, 2, 3, 1, 0, 0, 0, 0, 0]);
    let cat = r["by_category"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["collection"] == "event" && x["category"] == "fire_safety")
        .unwrap();
    assert_eq!(cat["records"], 3);
    assert_eq!(cat["closed"], 1);
    let lvl = |l: &str| {
        r["by_level"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["collection"] == "event" && x["level"] == l)
            .map(|x| x["records"].as_i64().unwrap())
    };
    assert_eq!((lvl("grid"), lvl("community")), (Some(4), Some(1)));
    let st = r["by_status"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["collection"] == "event" && x["status"] == "reported")
        .unwrap();
    assert_eq!(st["records"], 4);
    // One level down: p1 holds everything but the hazard of g3.
    let nodes: Vec<(String, i64)> = r["by_node"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            (
                n["code"].as_str().unwrap().to_owned(),
                n["records"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(nodes, [("p1".to_owned(), 14), ("p2".to_owned(), 1)]);

    // A period with nothing in it: the stock is there, the flows are not.
    let r = s.get("/v1/reports/summary?node=d&period=month&date=2020-01-15");
    assert_eq!(r["period"]["first_day"], "2020-01-01");
    assert_eq!(r["period"]["last_day"], "2020-01-31");
    assert_eq!(r["period"]["from"], "2020-01-01T00:00:00+08:00");
    assert_eq!(figures(&r["totals"]), [15, 12, 0, 0, 5, 0, 1, 0, 0]);

    // A community's report rolls up to its grids.
    let r = s.get(&format!("/v1/reports/summary?node=c1&{}", around()));
    let grids: Vec<(String, i64)> = r["by_node"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["records"].as_i64().unwrap() > 0)
        .map(|n| {
            (
                n["code"].as_str().unwrap().to_owned(),
                n["records"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(grids, [("g1".to_owned(), 10), ("g2".to_owned(), 4)]);
}

fn patrol_overdue_ranking_and_brief(b: &Backend) {
    let s = TestServer::start(b);
    let f = fixture(&s);
    let p = s.get(&format!("/v1/reports/patrol?node=d&{}", around()));
    let t = &p["totals"];
    assert_eq!(
        [
            t["rounds"].clone(),
            t["missed"].clone(),
            t["planned"].clone(),
            t["visited"].clone(),
            t["checkins"].clone()
        ],
        [3, 2, 7, 2, 3].map(Json::from)
    );
    assert_eq!(t["coverage"], 0.286);
    let g1 = find(&p["by_grid"], "grid", "g1");
    assert_eq!(
        (
            g1["planned"].as_i64(),
            g1["visited"].as_i64(),
            g1["missed"].as_i64()
        ),
        (Some(4), Some(2), Some(0))
    );
    let g2 = find(&p["by_grid"], "grid", "g2");
    assert_eq!(
        (g2["rounds"].as_i64(), g2["missed"].as_i64()),
        (Some(2), Some(2))
    );
    let yesterday = (today() - Duration::days(1)).to_string();
    assert_eq!(find(&p["by_day"], "day", &yesterday)["rounds"], 1);
    let r2 = find(&p["rounds"], "id", &f.r2.to_string());
    assert_eq!(
        (r2["missed"].as_bool(), r2["day"].as_str()),
        (Some(true), Some(yesterday.as_str()))
    );
    assert_eq!(find(&p["rounds"], "id", &f.r1.to_string())["missed"], false);
    // The list stops at `limit`; the totals do not.
    let p = s.get(&format!("/v1/reports/patrol?node=d&limit=1&{}", around()));
    assert_eq!(p["rounds"].as_array().unwrap().len(), 1);
    assert_eq!(
        (p["rounds_total"].as_i64(), p["totals"]["rounds"].as_i64()),
        (Some(3), Some(3))
    );

    let o = s.get("/v1/reports/overdue?node=d");
    let ids = |list: &str| -> Vec<String> {
        o[list]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x["id"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(ids("cases"), [f.e2.to_string()]);
    assert_eq!(ids("petitions"), [f.pt.to_string()]);
    assert_eq!(ids("mediations"), [f.dp1.to_string()]);
    assert_eq!(ids("key_persons"), [f.kp.to_string()]);
    assert_eq!(ids("places"), [f.pl1.to_string()]);
    for list in ["cases", "petitions", "mediations", "key_persons", "places"] {
        assert_eq!(o["counts"][list], 1, "{list}");
    }
    let kp = &o["key_persons"][0];
    assert_eq!(kp["label"], "张*", "names are masked in reports");
    // Rows written before labels were kept: the labels come from the state.
    assert!(b.execute("UPDATE records SET label = NULL") > 0);
    let unlabelled = s.get("/v1/reports/overdue?node=d");
    for list in ["cases", "petitions", "mediations", "key_persons", "places"] {
        assert_eq!(unlabelled[list], o[list], "{list}");
    }
    assert!(!o.to_string().contains("420202199001011231"));
    // The petition was due 15 days after 2026-09-01.
    assert_eq!(o["petitions"][0]["deadline"], "2026-09-16T00:00:00+08:00");

    let rk = s.get(&format!("/v1/reports/ranking?node=d&{}", around()));
    let line = |who: &Json| {
        (
            who["rank"].as_i64().unwrap(),
            who["username"].as_str().unwrap().to_owned(),
            who["score"].as_i64().unwrap(),
        )
    };
    let workers: Vec<_> = rk["grid_workers"]
        .as_array()
        .unwrap()
        .iter()
        .map(line)
        .collect();
    // w1: 6 reported (5 events, 1 petition) + 1 visit + 1 inspection; w2: 1 hazard; w3: a rename.
    assert_eq!(
        workers,
        [
            (1, "w1".to_owned(), 8),
            (2, "w2".to_owned(), 1),
            (3, "w3".to_owned(), 0)
        ]
    );
    assert_eq!(rk["grid_workers"][0]["visits"], 1);
    assert_eq!(rk["grid_workers"][0]["inspections"], 1);
    assert_eq!(rk["grid_workers"][2]["changes"], 1);
    let m = &rk["mediators"][0];
    assert_eq!(
        (
            m["username"].as_str(),
            m["sessions"].as_i64(),
            m["agreed"].as_i64(),
            m["closed"].as_i64(),
            m["score"].as_i64()
        ),
        (Some("med"), Some(2), Some(1), Some(1), Some(4))
    );
    // Top one only.
    let rk = s.get(&format!("/v1/reports/ranking?node=d&limit=1&{}", around()));
    assert_eq!(rk["grid_workers"].as_array().unwrap().len(), 1);
    assert_eq!(rk["counted"]["grid_workers"], 3);
    // A park sees its own people: w2 works in p2.
    let rk = s.get(&format!("/v1/reports/ranking?node=p2&{}", around()));
    let names: Vec<&str> = rk["grid_workers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["username"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["w2"]);

    let br = s.get("/v1/reports/brief?node=d");
    assert_eq!(br["report"], "brief");
    let p1 = find(&br["by_node"], "code", "p1");
    assert_eq!(
        (
            p1["new"].as_i64(),
            p1["due_soon"].as_i64(),
            p1["newly_overdue"].as_i64()
        ),
        (Some(14), Some(1), Some(1))
    );
    assert_eq!(find(&br["by_node"], "code", "p2")["new"], 1);
    assert_eq!(br["at_risk"]["cases"][0]["id"], f.e5.to_string());
    assert_eq!(br["at_risk"]["places"][0]["id"], f.pl1.to_string());
    assert_eq!(br["at_risk"]["counts"]["cases"], 1);
    assert_eq!(br["at_risk"]["counts"]["petitions"], 0);
}

fn download(s: &TestServer, token: &str, path: &str) -> (u16, String, Vec<u8>) {
    let res = s.authed(ureq::get(&s.url(path)), token).call();
    let r = match res {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("{e}"),
    };
    let status = r.status();
    let kind = r.content_type().to_owned();
    let mut bytes = Vec::new();
    r.into_reader().read_to_end(&mut bytes).unwrap();
    (status, kind, bytes)
}

fn downloads_are_audited_and_scoped(b: &Backend) {
    let s = TestServer::start(b);
    fixture(&s);
    let chief = s.supervisor_token();
    let (st, kind, csv) = download(
        &s,
        &chief,
        &format!(
            "/v1/reports/summary?node=d&format=csv&table=by_collection&{}",
            around()
        ),
    );
    assert_eq!((st, kind.as_str()), (200, "text/csv"));
    assert!(
        csv.starts_with(b"\xEF\xBB\xBF"),
        "a BOM for spreadsheet programs"
    );
    let mut reader = csv::Reader::from_reader(&csv[3..]);
    let header: Vec<String> = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_owned)
        .collect();
    // Codes show as the schema's Chinese labels, the codes in a column of
    // their own.
    assert_eq!(header[0], "类别 collection");
    assert_eq!(header[1], "类别代码 collection_code");
    assert_eq!(header[4], "新增 new");
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    let event = rows.iter().find(|r| &r[1] == "event").unwrap();
    assert_eq!(&event[0], "事件");
    assert_eq!(
        event.iter().skip(2).collect::<Vec<_>>(),
        ["5", "4", "5", "1", "1", "1", "0"]
    );
    let (st, _, csv) = download(
        &s,
        &chief,
        &format!(
            "/v1/reports/summary?node=d&format=csv&table=by_status&{}",
            around()
        ),
    );
    assert_eq!(st, 200);
    let mut reader = csv::Reader::from_reader(&csv[3..]);
    assert_eq!(
        reader.headers().unwrap().iter().take(4).collect::<Vec<_>>(),
        [
            "类别 collection",
            "类别代码 collection_code",
            "状态 status",
            "状态代码 status_code"
        ]
    );
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    // (A record with no status is a row of its own, with empty cells.)
    let coded: Vec<&csv::StringRecord> = rows.iter().filter(|r| !r[3].is_empty()).collect();
    assert!(coded.len() >= 3, "{rows:?}");
    for r in coded {
        let want = gridsync_core::Schema::current()
            .value_label(&r[1], "status", &r[3])
            .unwrap_or_else(|| panic!("{}: no status `{}`", &r[1], &r[3]));
        assert_eq!(&r[2], want.zh, "{r:?}");
        assert_ne!(&r[2], &r[3], "a label, not the code");
    }

    let (st, kind, xlsx) = download(&s, &chief, "/v1/reports/overdue?node=d&format=xlsx");
    assert_eq!(st, 200);
    assert_eq!(
        kind,
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    );
    assert!(xlsx.starts_with(b"PK"), "a zip container");

    let (st, _, body) = download(
        &s,
        &chief,
        "/v1/reports/summary?node=d&format=csv&table=nope",
    );
    assert_eq!(st, 400);
    assert!(String::from_utf8_lossy(&body).contains("unknown_table"));

    // Every export is audited; the overdue list names a key person: audited too.
    let (st, audit) = s.get_as(&s.admin_token(), "/v1/audit");
    assert_eq!(st, 200);
    let entries = audit["entries"].as_array().unwrap();
    let exports: Vec<(&str, &str)> = entries
        .iter()
        .filter(|e| e["action"] == "export_report")
        .map(|e| {
            (
                e["target"].as_str().unwrap(),
                e["username"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        exports,
        [
            ("report:overdue node:d", "chief"),
            ("report:summary node:d", "chief"),
            ("report:summary node:d", "chief")
        ]
    );
    assert!(entries
        .iter()
        .any(|e| e["action"] == "report_key_persons" && e["target"] == "node:d"));
    let detail = entries
        .iter()
        .find(|e| e["action"] == "export_report")
        .unwrap()["detail"]
        .as_str()
        .unwrap();
    assert!(detail.starts_with("format=xlsx table=all"), "{detail}");

    // Scope: a park supervisor sees its park only; others see no reports.
    let sup = s.login("sup", common::PASSWORD)["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let (st, r) = s.get_as(&sup, &format!("/v1/reports/summary?node=p1&{}", around()));
    assert_eq!(st, 200);
    assert_eq!(r["totals"]["records"], 14);
    let (st, r) = s.get_as(&sup, "/v1/reports/summary");
    assert_eq!(
        (st, r["node"]["code"].as_str()),
        (200, Some("p1")),
        "the caller's node by default"
    );
    for node in ["d", "p2", "g3"] {
        let (st, r) = s.get_as(&sup, &format!("/v1/reports/overdue?node={node}"));
        assert_eq!(
            (st, r["code"].as_str()),
            (403, Some("out_of_scope")),
            "{node}"
        );
        let (st, _, _) = download(
            &s,
            &sup,
            &format!("/v1/reports/summary?node={node}&format=csv"),
        );
        assert_eq!(st, 403);
    }
    let worker = s.login("w1", common::PASSWORD)["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let (st, r) = s.get_as(&worker, "/v1/reports/summary?node=g1");
    assert_eq!((st, r["code"].as_str()), (403, Some("forbidden")));
    let (st, r) = s.get_as(&s.admin_token(), "/v1/reports/summary?node=d");
    assert_eq!((st, r["code"].as_str()), (403, Some("forbidden")));
    let (st, r) = s.get_as(&chief, "/v1/reports/summary?node=nowhere");
    assert_eq!((st, r["code"].as_str()), (404, Some("not_found")));
    for bad in [
        "period=year",
        "period=day&date=2026-02-30",
        "from=2026-11-05&to=2026-11-01",
        "from=2026-11-05",
        "format=pdf",
        "limit=0",
        "colour=red",
    ] {
        let (st, r) = s.get_as(&chief, &format!("/v1/reports/summary?node=d&{bad}"));
        assert_eq!(st, 400, "{bad}: {r}");
    }
    let (st, r) = s.get_as(&chief, "/v1/reports/brief?period=month");
    assert_eq!((st, r["code"].as_str()), (400, Some("invalid_period")));
    // No export was made by the refused calls.
    let (_, audit) = s.get_as(&s.admin_token(), "/v1/audit");
    let n = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "export_report")
        .count();
    assert_eq!(n, exports.len());
    // Unauthenticated: 401.
    let (st, _) = s.call(ureq::get(&s.url("/v1/reports/summary")), None);
    assert_eq!(st, 401);
}

/// Per collection: (records, open, overdue, conflicted), counted from the
/// record lists of every grid.
fn recount(s: &TestServer) -> std::collections::BTreeMap<String, [i64; 4]> {
    let mut out = std::collections::BTreeMap::new();
    for (grid, _, level) in common::TREE {
        if level != "grid" {
            continue;
        }
        let list = s.get(&format!("/v1/grids/{grid}/records?limit=1000"));
        for r in list["records"].as_array().unwrap() {
            let e: &mut [i64; 4] = out
                .entry(r["collection"].as_str().unwrap().to_owned())
                .or_default();
            let open = r.get("closed_at").is_none();
            e[0] += 1;
            e[1] += i64::from(open);
            e[2] += i64::from(open && r["overdue"] == true);
            e[3] += i64::from(r["conflicted"] == true);
        }
    }
    out
}

fn stock_of_summary(s: &TestServer) -> std::collections::BTreeMap<String, [i64; 4]> {
    let r = s.get("/v1/reports/summary?node=d");
    r["by_collection"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let f = figures(c);
            (
                c["collection"].as_str().unwrap().to_owned(),
                [f[0], f[1], f[4], f[6]],
            )
        })
        .collect()
}

fn the_kept_stock_follows_merges_deletes_and_sweeps(b: &Backend) {
    let s = TestServer::start(b);
    let f = fixture(&s);
    assert_eq!(stock_of_summary(&s), recount(&s));
    // A worker deletes a place and reopens nothing; the supervisor resolves
    // the conflict; a sweep two months ahead marks and escalates what is late.
    let mut w = common::Phone::enroll_existing(&s, "w3", common::PASSWORD, &["g1"]);
    w.sync(&s);
    w.make(|d| d.delete(f.pl1));
    w.make(|d| d.edit(f.pl2).set("name", "便利店C").commit());
    w.sync(&s);
    assert_eq!(stock_of_summary(&s), recount(&s));
    let at = chrono::DateTime::from_timestamp_millis(
        chrono::DateTime::parse_from_rfc3339(&format!("{}T00:00:00+08:00", today()))
            .unwrap()
            .timestamp_millis()
            + 60 * 86_400_000,
    )
    .unwrap()
    .to_rfc3339();
    let (st, swept) = s.call(
        s.authed(ureq::post(&s.url("/v1/admin/sweep")), &s.admin_token()),
        Some(serde_json::json!({ "at": at })),
    );
    assert_eq!(st, 200, "{swept}");
    assert!(swept["escalated"].as_u64().unwrap() >= 5, "{swept}");
    let after = stock_of_summary(&s);
    assert_eq!(after, recount(&s));
    // Two months on, every open event is past its statutory limit (counted
    // from its report, kept across escalation): escalated or not, each is
    // still overdue (before issue 16 the escalated ones dropped out).
    assert_eq!(
        (after["event"][1], after["event"][2]),
        (4, 4),
        "open, overdue: {after:?}"
    );
    assert_eq!(
        after["place"],
        [1, 1, 1, 0],
        "pl1 deleted; pl2 late, resolved"
    );
}
