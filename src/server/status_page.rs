//! `GET /` on the HTTP port: a status page for operators. Server-rendered HTML (the first
//! response already lists the running queries), refreshed in place every second by a few lines
//! of inline JS that fetch the page again; no build step, no CDN, works offline. Endpoints with
//! health, breaker state and latency; running queries with a progress bar per query and a cell
//! per split; slow queries; p95 latency per method as an inline SVG chart.

use std::{fmt::Write as _, sync::Arc, time::Duration};

use axum::{
    extract::State,
    http::{HeaderMap, StatusCode, Uri, header},
    response::{Html, IntoResponse, Response},
};
use subtle::ConstantTimeEq;

use crate::{
    backend::EndpointStatus,
    monitor::{QueryRecord, TrendBucket},
    state::AppState,
};

/// How often the page refreshes itself.
const REFRESH_MS: u64 = 1000;

pub(super) async fn page(
    State(state): State<Arc<AppState>>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    // The page names tables and callers: behind `server.metrics_token` like /metrics, given
    // as a bearer token or, for a browser, as `?token=`.
    let expected = &state.config.server.metrics_token;
    if !expected.is_empty() {
        let from_header = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        let from_query = uri
            .query()
            .and_then(|q| q.split('&').find_map(|pair| pair.strip_prefix("token=")));
        let presented = from_header.or(from_query).unwrap_or_default();
        if !bool::from(presented.as_bytes().ct_eq(expected.as_bytes())) {
            return (
                StatusCode::UNAUTHORIZED,
                "the status page needs server.metrics_token: open /?token=<token>\n",
            )
                .into_response();
        }
    }
    let view = View {
        version: env!("CARGO_PKG_VERSION"),
        backend: state.catalog.backend().kind(),
        uptime: state.started.elapsed(),
        endpoints: state.catalog.backend().endpoints(),
        running: state.queries.running(),
        slow: state.queries.slow(10, None),
        trends: state.queries.trends(Duration::from_secs(60)),
    };
    Html(render(&view)).into_response()
}

/// What the page shows.
struct View {
    version: &'static str,
    backend: &'static str,
    uptime: Duration,
    endpoints: Vec<EndpointStatus>,
    running: Vec<QueryRecord>,
    slow: Vec<QueryRecord>,
    trends: Vec<TrendBucket>,
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font:14px system-ui,sans-serif;margin:1.5em;color:#222}\
table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border-bottom:1px solid #ddd;\
padding:3px 10px;text-align:left}th{background:#f4f4f4}.ok{color:#1a7f37}.bad{color:#c62828}\
.split{display:inline-block;min-width:1.6em;margin:1px;padding:1px 3px;border-radius:3px;\
font-size:11px;text-align:center;color:#fff}.queued{background:#9e9e9e}.running{background:\
#1e88e5}.retrying{background:#fb8c00}.done{background:#43a047}.failed{background:#e53935}\
progress{width:16em}small{color:#666}";

fn render(view: &View) -> String {
    let mut html = String::new();
    let _ = write!(
        html,
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>vastgate status</title>\
         <style>{STYLE}</style></head><body><h1>vastgate</h1><div id=\"live\">"
    );
    live(&mut html, view);
    let _ = write!(
        html,
        "</div><script>setInterval(async()=>{{try{{const r=await fetch(location.href);\
         const d=new DOMParser().parseFromString(await r.text(),'text/html');\
         document.getElementById('live').innerHTML=d.getElementById('live').innerHTML;\
         }}catch(e){{}}}},{REFRESH_MS});</script></body></html>"
    );
    html
}

/// The part that refreshes.
fn live(html: &mut String, view: &View) {
    let _ = write!(
        html,
        "<p><small>version {} · backend {} · up {}s · {} running</small></p>",
        view.version,
        view.backend,
        view.uptime.as_secs(),
        view.running.len()
    );

    html.push_str("<h2>Running queries</h2>");
    if view.running.is_empty() {
        html.push_str("<p><small>none</small></p>");
    } else {
        html.push_str(
            "<table id=\"running\"><tr><th>query</th><th>method</th><th>table</th><th>caller</th>\
             <th>phase</th><th>time</th><th>rows</th><th>splits</th></tr>",
        );
        for q in &view.running {
            let _ = write!(
                html,
                "<tr class=\"query\" data-query-id=\"{id}\"><td><code>{id}</code></td><td>{method}</td>\
                 <td>{table}</td><td>{caller}</td><td>{phase}</td><td>{time:.1}s</td><td>{rows}</td>\
                 <td><progress value=\"{done}\" max=\"{total}\"></progress> {done}/{total}<br>",
                id = escape(&q.query_id),
                method = escape(&q.method),
                table = escape(&q.table),
                caller = escape(&q.caller),
                phase = escape(&q.phase),
                time = q.duration_ms / 1e3,
                rows = q.rows_scanned,
                done = q.splits_done,
                total = q.splits.max(1),
            );
            for s in &q.split_details {
                let _ = write!(
                    html,
                    "<span class=\"split {state}\" title=\"split {index}: {state}, {rows} rows, \
                     {pages} pages, {retries} retries{hedged} {endpoints}\">{index}</span>",
                    state = s.state.as_str(),
                    index = s.index,
                    rows = s.rows,
                    pages = s.pages,
                    retries = s.retries,
                    hedged = if s.hedged { ", hedged" } else { "" },
                    endpoints = escape(&s.endpoints.join(" ")),
                );
            }
            html.push_str("</td></tr>");
        }
        html.push_str("</table>");
    }

    html.push_str("<h2>Endpoints</h2>");
    if view.endpoints.is_empty() {
        html.push_str("<p><small>the local backend has no endpoints</small></p>");
    } else {
        html.push_str(
            "<table id=\"endpoints\"><tr><th>endpoint</th><th>health</th><th>breaker</th>\
             <th>latency</th><th>in flight</th><th>errors</th><th>last error</th></tr>",
        );
        for e in &view.endpoints {
            let _ = write!(
                html,
                "<tr><td>{url}</td><td class=\"{class}\">{health}</td><td>{breaker}</td>\
                 <td>{latency:.1} ms</td><td>{in_flight}</td><td>{errors}</td><td>{last}</td></tr>",
                url = escape(&e.url),
                class = if e.healthy { "ok" } else { "bad" },
                health = if e.healthy { "healthy" } else { "down" },
                breaker = escape(&e.breaker_state),
                latency = e.latency_ms,
                in_flight = e.in_flight,
                errors = e.errors,
                last = escape(&e.last_error),
            );
        }
        html.push_str("</table>");
    }

    html.push_str("<h2>Slow queries</h2>");
    if view.slow.is_empty() {
        html.push_str("<p><small>none</small></p>");
    } else {
        html.push_str(
            "<table id=\"slow\"><tr><th>query</th><th>method</th><th>table</th><th>caller</th>\
             <th>time</th><th>rows</th><th>state</th></tr>",
        );
        for q in &view.slow {
            let _ = write!(
                html,
                "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{:.1}s</td>\
                 <td>{}</td><td>{}</td></tr>",
                escape(&q.query_id),
                escape(&q.method),
                escape(&q.table),
                escape(&q.caller),
                q.duration_ms / 1e3,
                q.rows_scanned,
                q.state.as_str(),
            );
        }
        html.push_str("</table>");
    }

    html.push_str("<h2>Latency (p95 per minute)</h2>");
    chart(html, &view.trends);
}

/// p95 per method over the trend buckets, as an inline SVG.
fn chart(html: &mut String, trends: &[TrendBucket]) {
    if trends.is_empty() {
        html.push_str("<p><small>no finished queries yet</small></p>");
        return;
    }
    let (width, height) = (640.0, 160.0);
    let mut starts: Vec<_> = trends.iter().map(|b| b.start).collect();
    starts.sort();
    starts.dedup();
    let top = trends.iter().map(|b| b.p95_ms).fold(1.0_f64, f64::max);
    let x = |i: usize| {
        if starts.len() < 2 {
            width / 2.0
        } else {
            i as f64 * width / (starts.len() - 1) as f64
        }
    };
    let mut methods: Vec<&str> = trends.iter().map(|b| b.method.as_str()).collect();
    methods.sort_unstable();
    methods.dedup();
    let colors = [
        "#1e88e5", "#e53935", "#43a047", "#fb8c00", "#8e24aa", "#00897b",
    ];
    let _ = write!(
        html,
        "<svg id=\"latency\" width=\"{width}\" height=\"{}\" viewBox=\"0 0 {width} {}\">\
         <text x=\"0\" y=\"12\" font-size=\"11\">{top:.0} ms</text>",
        height + 20.0,
        height + 20.0
    );
    for (m, method) in methods.iter().enumerate() {
        let points: Vec<String> = trends
            .iter()
            .filter(|b| b.method == *method)
            .filter_map(|b| {
                let i = starts.iter().position(|s| *s == b.start)?;
                Some(format!(
                    "{:.1},{:.1}",
                    x(i),
                    height - b.p95_ms / top * (height - 16.0)
                ))
            })
            .collect();
        let color = colors[m % colors.len()];
        let _ = write!(
            html,
            "<polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"2\" points=\"{}\"/>\
             <text x=\"{}\" y=\"{}\" font-size=\"11\" fill=\"{color}\">{}</text>",
            points.join(" "),
            10 + 110 * m,
            height + 16.0,
            escape(method)
        );
    }
    html.push_str("</svg>");
}
