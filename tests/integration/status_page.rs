//! The status page (`GET /` on the HTTP port) while a slow query runs: the first response
//! already lists the query with a progress bar and a cell per split, and headless Chromium
//! (Debian's `chromium`, which `.ci/run` installs) renders it.

use std::{path::Path, process::Command, time::Duration};

use vastgate::{emulator::FaultConfig, proto};

use crate::{
    harness::{TestServer, data_dir, sensors},
    http::get,
    vast_sdk::Emulator,
};

fn chromium() -> Command {
    let found = Path::new("/usr/bin/chromium").exists();
    assert!(
        found,
        "chromium is not installed: apt-get install chromium (what .ci/run does)"
    );
    let mut command = Command::new("/usr/bin/chromium");
    command.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--hide-scrollbars",
    ]);
    command
}

#[tokio::test]
async fn the_status_page_shows_a_running_query_split_by_split_in_a_real_browser() {
    let faults = FaultConfig {
        latency_ms: 60,
        ..Default::default()
    };
    let emulator = Emulator::with_faults(data_dir(), faults).await;
    let server = TestServer::with_vast(
        &[&emulator.url],
        "[exec]\nsplit_concurrency = 2\nlimit_rows_per_sub_split = 4096\n",
    )
    .await;
    let mut query = server.query().await;
    let scan = tokio::spawn(async move {
        let response = query
            .select(proto::SelectRequest {
                table: sensors(),
                columns: vec!["sensor_id".into()],
                hints: Some(proto::QueryHints {
                    num_splits: 6,
                    num_sub_splits: 1,
                    ..Default::default()
                }),
                ..Default::default()
            })
            .await
            .unwrap();
        let query_id = crate::harness::query_id(&response);
        // Read slowly enough that the page catches the query running.
        let _ = crate::referee::decode_chunks(response.into_inner()).await;
        query_id
    });
    let mut admin = server.admin().await;
    let query_id = crate::recorder::running_select(&mut admin).await;
    // Until its splits are planned and queued.
    loop {
        let query = admin
            .get_query(proto::GetQueryRequest {
                query_id: query_id.clone(),
            })
            .await
            .unwrap()
            .into_inner()
            .query
            .unwrap();
        if query.split_details.len() == 6 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }

    // Server-rendered: the first response lists the running query and its splits.
    let (status, page) = get(server.http, "/").await;
    assert_eq!(status, 200);
    assert!(
        page.contains(&format!("data-query-id=\"{query_id}\"")),
        "{page}"
    );
    assert!(page.contains("<progress value="), "{page}");
    assert_eq!(
        page.matches("class=\"split ").count(),
        6,
        "one cell per split"
    );
    assert!(
        page.contains(&emulator.url),
        "the endpoint table lists the emulator"
    );

    // A real browser renders it: the DOM after load, and a screenshot.
    let url = format!("http://{}/", server.http);
    let shot = tempfile::tempdir().unwrap();
    let png = shot.path().join("status.png");
    let (dom, picture) = tokio::task::spawn_blocking({
        let url = url.clone();
        let png = png.clone();
        move || {
            let dom = chromium().arg("--dump-dom").arg(&url).output().unwrap();
            let picture = chromium()
                .arg(format!("--screenshot={}", png.display()))
                .arg("--window-size=1200,900")
                .arg(&url)
                .output()
                .unwrap();
            (dom, picture)
        }
    })
    .await
    .unwrap();
    let dom = String::from_utf8_lossy(&dom.stdout).into_owned();
    assert!(dom.contains(&query_id), "{dom}");
    assert!(dom.contains("<progress"), "{dom}");
    assert!(
        picture.status.success(),
        "{}",
        String::from_utf8_lossy(&picture.stderr)
    );
    let size = std::fs::metadata(&png).map(|m| m.len()).unwrap_or(0);
    assert!(size > 10_000, "a screenshot of {size} bytes");
    if let Ok(keep) = std::env::var("VASTGATE_STATUS_SCREENSHOT") {
        std::fs::copy(&png, keep).unwrap();
    }
    assert_eq!(scan.await.unwrap(), query_id);
}
