//! `lineagedb serve`: one process owns the database file and keeps its warm
//! handle, and serves the OpenLineage HTTP endpoint producers point at and a
//! JSON API (axum on tokio). This is the first part of the serve contract:
//! the dashboard pages and the CLI speaking to a server are not built yet.
//!
//! - `POST /api/v1/lineage`: one OpenLineage event of any kind, imported as
//!   `import --format openlineage` imports it (idempotent); 201 with
//!   `{"snapshot": N}` (`null` when nothing changed), as Marquez answers; 400
//!   for a body that is not JSON, 422 for an event the importer refuses.
//! - `POST /api/v1/lineage/batch`: a JSON array, each event its own
//!   transaction; 200 with `status` (`success` or `partial_success`), a
//!   `summary` and the `failed_events`.
//! - `POST /api/query`: `{"query": "...", "as_of": N}` (`as_of` optional: the
//!   snapshot every read without an `AS OF` of its own reads) or the
//!   statements as plain text;
//!   the `--format json` objects as a JSON array; statements that write are
//!   refused (403) unless the server runs with `--allow-writes`; a failing
//!   statement is 400 with the error object.
//! - `GET /api/node/{key}`: `SHOW key` as JSON; 404 when there is no such node.
//! - `GET /api/lineage/{key}?direction=upstream|downstream|both&depth=N&as_of=S`:
//!   `LINEAGE OF key ...` as JSON (both directions, no depth bound, the latest
//!   snapshot by default).
//! - Request bodies may be gzip (`Content-Encoding: gzip`, or the gzip magic
//!   bytes without the header, as older Java clients send).
//! - With `--token` (or `LINEAGEDB_TOKEN`) every request needs
//!   `Authorization: Bearer TOKEN` (401 otherwise); a non-loopback `--bind`
//!   refuses to start without one.
//! - More than `--max-requests` at once (256 by default): 503 with
//!   `Retry-After: 1`.
//! - SIGINT and SIGTERM stop the server after the requests in flight,
//!   commits included, waiting 10 s at most.
//! - `lineagedb run` cannot open a file the server owns: it spools its run
//!   record beside it, and the server commits spooled records every 2 s.
//!   `<db>.serve` holds the server's URL while it runs, so that a command
//!   that finds the file busy can say where to go.

use std::io::Read;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use anyhow::anyhow;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use lineagedb_engine::{Database, OpenLineageImporter, OpenLineageOptions};
use lineagedb_query::Session;
use serde_json::{Value as Json, json};

use crate::cli::ServeArgs;
use crate::output::Failure;

/// What every request handler shares.
struct App {
    db: Database,
    token: Option<String>,
    allow_writes: bool,
    author: String,
}

/// `lineagedb serve`.
pub fn run(db_path: &Path, author: &str, args: &ServeArgs) -> Result<(), Failure> {
    let addr: SocketAddr = args.bind.parse().map_err(|e| {
        anyhow!("invalid --bind {:?}: {e}\nhint: an address and port such as 127.0.0.1:7878", args.bind)
    })?;
    let token = args.token.clone().filter(|t| !t.is_empty());
    if !addr.ip().is_loopback() && token.is_none() {
        return Err(anyhow!(
            "refusing to serve on {addr} without a token: any machine that reaches it could read the lineage\n\
             hint: pass --token TOKEN (or set LINEAGEDB_TOKEN), or bind a loopback address such as 127.0.0.1:7878"
        )
        .into());
    }
    let db = crate::oneshot::open_database(db_path, author)?;
    let app = Arc::new(App { db, token, allow_writes: args.allow_writes, author: author.to_owned() });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| anyhow!("cannot start the server's runtime: {e}"))?;
    runtime.block_on(serve(app, addr, db_path, usize::try_from(args.max_requests).unwrap_or(256)))
}

async fn serve(app: Arc<App>, addr: SocketAddr, db_path: &Path, max_requests: usize) -> Result<(), Failure> {
    let app_for_spool = Arc::clone(&app);
    let limit = Arc::new(tokio::sync::Semaphore::new(max_requests));
    let router = Router::new()
        .route("/api/v1/lineage", post(lineage))
        .route("/api/v1/lineage/batch", post(lineage_batch))
        .route("/api/query", post(query))
        .route("/api/node/{key}", get(node))
        .route("/api/lineage/{key}", get(lineage_of))
        .layer(axum::middleware::from_fn_with_state(limit, overload))
        .with_state(app);
    // `lineagedb run` cannot open the file while the server owns it: it spools
    // its record, which the server commits here within a couple of seconds.
    let spool_path = db_path.to_owned();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(2));
        loop {
            tick.tick().await;
            if crate::spool::waiting(&spool_path).is_empty() {
                continue;
            }
            let (app, path) = (Arc::clone(&app_for_spool), spool_path.clone());
            let _ = tokio::task::spawn_blocking(move || crate::spool::replay(&path, &app.db)).await;
        }
    });
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| anyhow!("cannot listen on {addr}: {e}"))?;
    let bound = listener.local_addr().map_err(|e| anyhow!("cannot listen on {addr}: {e}"))?;
    eprintln!("lineagedb: serving {} on http://{bound} (Ctrl-C or SIGTERM to stop)", db_path.display());
    // Beside the database, where commands that find it busy learn where to go.
    let marker = marker_path(db_path);
    let _ = std::fs::write(&marker, format!("http://{bound}\n{}\n", std::process::id()));
    // On SIGINT or SIGTERM: no new connections, the requests in flight finish
    // (commits included), for at most 10 s: a stuck client cannot keep it up.
    let (tell, told) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        stopped().await;
        let _ = tell.send(true);
    });
    let mut first = told.clone();
    let mut second = told;
    let graceful = axum::serve(listener, router).with_graceful_shutdown(async move {
        let _ = first.wait_for(|stop| *stop).await;
    });
    let served = tokio::select! {
        served = graceful => served,
        () = async move {
            let _ = second.wait_for(|stop| *stop).await;
            tokio::time::sleep(std::time::Duration::from_secs(10)).await;
        } => {
            eprintln!("lineagedb: stopping with requests still open after 10 s");
            Ok(())
        }
    };
    let _ = std::fs::remove_file(&marker);
    served.map_err(|e| anyhow!("the server stopped: {e}"))?;
    eprintln!("lineagedb: stopped");
    Ok(())
}

/// Serves a request while fewer than `--max-requests` are in flight (its
/// body included: a slow client holds a slot, never a transaction); answers
/// 503 with `Retry-After: 1` otherwise, which the OpenLineage clients retry.
async fn overload(
    State(limit): State<Arc<tokio::sync::Semaphore>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let Ok(_slot) = limit.try_acquire_owned() else {
        let mut busy = error(StatusCode::SERVICE_UNAVAILABLE, "the server is busy: try again in a second");
        busy.headers_mut().insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
        return busy;
    };
    next.run(request).await
}

/// Resolves on SIGINT or SIGTERM.
async fn stopped() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(term) => term,
            Err(_) => {
                let _ = interrupt.await;
                return;
            }
        };
        tokio::select! {
            _ = interrupt => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = interrupt.await;
}

/// An error answer: the spec's error object with `status`.
fn error(status: StatusCode, message: &str) -> Response {
    (status, axum::Json(json!({"error": {"message": message}}))).into_response()
}

/// Refuses a request without the token, when the server has one.
fn authorized(app: &App, headers: &HeaderMap) -> Result<(), Response> {
    let Some(token) = &app.token else { return Ok(()) };
    let given =
        headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
    if given == Some(token.as_str()) {
        Ok(())
    } else {
        Err(error(StatusCode::UNAUTHORIZED, "a valid token is needed: send Authorization: Bearer TOKEN"))
    }
}

/// The request body as text: gzip (by header or by its magic bytes) unpacked.
fn body_text(headers: &HeaderMap, body: &Bytes) -> Result<String, Response> {
    let gzip = headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("gzip"))
        || body.starts_with(&[0x1f, 0x8b]);
    if gzip {
        let mut text = String::new();
        flate2::read::GzDecoder::new(&body[..]).read_to_string(&mut text).map_err(|e| {
            error(StatusCode::BAD_REQUEST, &format!("the gzip body does not unpack to UTF-8 text: {e}"))
        })?;
        return Ok(text);
    }
    String::from_utf8(body.to_vec()).map_err(|_| error(StatusCode::BAD_REQUEST, "the body is not UTF-8 text"))
}

/// Imports one event in its own transaction: the snapshot committed, or why not.
fn import_one(app: &App, event: &str, name: &str) -> Result<Option<u64>, String> {
    let options = OpenLineageOptions {
        skip_invalid: false,
        author: Some(app.author.clone()),
        message: Some(format!("openlineage {name}")),
    };
    let mut importer = OpenLineageImporter::new(&app.db, options).map_err(|e| e.to_string())?;
    importer.read_event(name, 1, event).map_err(|e| e.reason)?;
    importer.commit().map(|report| report.snapshot).map_err(|e| e.reason)
}

async fn lineage(State(app): State<Arc<App>>, headers: HeaderMap, body: Bytes) -> Response {
    let text = match authorized(&app, &headers).and_then(|()| body_text(&headers, &body)) {
        Ok(text) => text,
        Err(refused) => return refused,
    };
    if let Err(e) = serde_json::from_str::<Json>(&text) {
        return error(StatusCode::BAD_REQUEST, &format!("the body is not JSON: {e}"));
    }
    let outcome = tokio::task::spawn_blocking(move || import_one(&app, &text, "POST /api/v1/lineage")).await;
    match outcome {
        Ok(Ok(snapshot)) => (StatusCode::CREATED, axum::Json(json!({"snapshot": snapshot}))).into_response(),
        Ok(Err(reason)) => error(StatusCode::UNPROCESSABLE_ENTITY, &reason),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, &format!("the import stopped: {e}")),
    }
}

async fn lineage_batch(State(app): State<Arc<App>>, headers: HeaderMap, body: Bytes) -> Response {
    let text = match authorized(&app, &headers).and_then(|()| body_text(&headers, &body)) {
        Ok(text) => text,
        Err(refused) => return refused,
    };
    let events: Vec<Json> = match serde_json::from_str(&text) {
        Ok(Json::Array(events)) => events,
        Ok(_) => return error(StatusCode::BAD_REQUEST, "the body must be a JSON array of events"),
        Err(e) => return error(StatusCode::BAD_REQUEST, &format!("the body is not JSON: {e}")),
    };
    let outcome = tokio::task::spawn_blocking(move || {
        let mut failed = Vec::new();
        for (index, event) in events.iter().enumerate() {
            if let Err(reason) = import_one(&app, &event.to_string(), &format!("POST /api/v1/lineage/batch [{index}]"))
            {
                failed.push(json!({"index": index, "reason": reason, "retriable": false}));
            }
        }
        (events.len(), failed)
    })
    .await;
    let Ok((received, failed)) = outcome else {
        return error(StatusCode::INTERNAL_SERVER_ERROR, "the import stopped");
    };
    let status = if failed.is_empty() { "success" } else { "partial_success" };
    let summary = json!({"received": received, "successful": received - failed.len(), "failed": failed.len(),
        "retriable": 0, "non_retriable": failed.len()});
    axum::Json(json!({"status": status, "summary": summary, "failed_events": failed})).into_response()
}

async fn query(State(app): State<Arc<App>>, headers: HeaderMap, body: Bytes) -> Response {
    let text = match authorized(&app, &headers).and_then(|()| body_text(&headers, &body)) {
        Ok(text) => text,
        Err(refused) => return refused,
    };
    let statements = match serde_json::from_str::<Json>(&text) {
        Ok(Json::Object(o)) => match (o.get("query").and_then(Json::as_str), o.get("as_of")) {
            (Some(q), None | Some(Json::Null)) => q.to_owned(),
            (Some(q), Some(Json::Number(n))) if n.as_u64().is_some() => pinned(q, n.as_u64().unwrap_or_default()),
            (Some(_), Some(other)) => {
                return error(StatusCode::BAD_REQUEST, &format!("\"as_of\" must be a snapshot id, not {other}"));
            }
            (None, _) => {
                return error(StatusCode::BAD_REQUEST, "the JSON body needs \"query\": the statements, as text");
            }
        },
        _ => text,
    };
    run_statements(app, statements).await
}

/// `statements` with `AS OF snapshot` on each read that takes one and does not
/// say its own; as written when they do not parse (the error is reported then).
fn pinned(statements: &str, snapshot: u64) -> String {
    use lineagedb_query::syntax::{At, Statement};
    let Ok(mut parsed) = lineagedb_query::syntax::parse_script(statements) else { return statements.to_owned() };
    for statement in &mut parsed {
        let as_of = match statement {
            Statement::Walk(w, _) => &mut w.as_of,
            Statement::Lineage(l, _) => &mut l.as_of,
            Statement::Find(f, _) => &mut f.as_of,
            Statement::Path { as_of, .. } | Statement::Show { as_of, .. } | Statement::Report { as_of, .. } => as_of,
            _ => continue,
        };
        as_of.get_or_insert(At::Snapshot(snapshot));
    }
    parsed.iter().map(ToString::to_string).collect::<Vec<_>>().join(";\n")
}

async fn node(State(app): State<Arc<App>>, headers: HeaderMap, UrlPath(key): UrlPath<String>) -> Response {
    if let Err(refused) = authorized(&app, &headers) {
        return refused;
    }
    if key.parse::<lineagedb_engine::NodeRef>().is_err() {
        return error(StatusCode::BAD_REQUEST, &format!("{key:?} is not a node key such as model:fraud@3"));
    }
    let response = run_statements(app, format!("SHOW {key}")).await;
    if response.status() == StatusCode::BAD_REQUEST {
        return error(StatusCode::NOT_FOUND, &format!("no node {key}"));
    }
    response
}

/// `?direction=upstream|downstream|both&depth=N&as_of=S` of `GET /api/lineage/{key}`.
#[derive(serde::Deserialize)]
struct LineageQuery {
    direction: Option<String>,
    depth: Option<u32>,
    as_of: Option<u64>,
}

async fn lineage_of(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    UrlPath(key): UrlPath<String>,
    axum::extract::Query(q): axum::extract::Query<LineageQuery>,
) -> Response {
    if let Err(refused) = authorized(&app, &headers) {
        return refused;
    }
    if key.parse::<lineagedb_engine::NodeRef>().is_err() {
        return error(StatusCode::BAD_REQUEST, &format!("{key:?} is not a node key such as model:fraud@3"));
    }
    let direction = match q.direction.as_deref().unwrap_or("both").to_ascii_lowercase().as_str() {
        "upstream" => "UPSTREAM",
        "downstream" => "DOWNSTREAM",
        "both" => "BOTH",
        other => {
            return error(StatusCode::BAD_REQUEST, &format!("direction {other:?}: use upstream, downstream or both"));
        }
    };
    let mut statement = format!("LINEAGE OF {key} {direction}");
    if let Some(depth) = q.depth {
        statement.push_str(&format!(" DEPTH {depth}"));
    }
    if let Some(at) = q.as_of {
        statement.push_str(&format!(" AS OF {at}"));
    }
    let response = run_statements(app, statement).await;
    if response.status() == StatusCode::BAD_REQUEST {
        return error(StatusCode::NOT_FOUND, &format!("no node {key} (at that snapshot)"));
    }
    response
}

/// Runs `statements` in a session of their own: the JSON objects of
/// `--format json`, as an array.
async fn run_statements(app: Arc<App>, statements: String) -> Response {
    let writes = match lineagedb_query::syntax::parse_script(&statements) {
        Ok(parsed) => parsed.iter().any(|s| !s.only_reads()),
        Err(_) => false,
    };
    if writes && !app.allow_writes {
        return error(StatusCode::FORBIDDEN, "this server takes no writes: start it with --allow-writes");
    }
    let outcome = tokio::task::spawn_blocking(move || {
        let mut session = Session::new(app.db.clone());
        session.set_author(app.author.clone());
        session.execute(&statements)
    })
    .await;
    match outcome {
        Ok(Ok(results)) => axum::Json(Json::Array(results.iter().map(|r| r.to_json()).collect())).into_response(),
        Ok(Err(e)) => (StatusCode::BAD_REQUEST, axum::Json(e.to_json())).into_response(),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, &format!("the statement stopped: {e}")),
    }
}

/// `<db>.serve`: the URL and the process id of the server that owns `db`.
pub fn marker_path(db: &Path) -> std::path::PathBuf {
    crate::spool::beside(db, ".serve")
}

/// The URL of the server that owns `db`, when one is running.
pub fn serving(db: &Path) -> Option<String> {
    let text = std::fs::read_to_string(marker_path(db)).ok()?;
    let mut lines = text.lines();
    let url = lines.next()?.to_owned();
    let pid = lines.next()?.trim();
    Path::new("/proc").join(pid).exists().then_some(url)
}
