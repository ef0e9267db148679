//! The JSON API under `/api/v1`. Every handler's path, parameters and bodies are declared
//! once, in its `#[utoipa::path]`, from which both the route and the OpenAPI document come.

use std::collections::{BTreeMap, HashMap};
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{FromRequest, FromRequestParts, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use tessera_engine::{
    BackfillProgress, BackfillRecord, BackfillStatus, Engine, Filter, KeyPage, PartitionDetail,
    PartitionSelection, PartitionStatus, PlanPreview, RunEvent, RunFilter, RunPolicy, RunRecord,
    RunStatus, ScheduleView, SensorOutcome, StatusCounts, StatusQuery, StatusView, Submitted,
};
use tokio::sync::broadcast::error::RecvError;
use utoipa::{IntoParams, OpenApi, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiError, ErrorBody};
use crate::events::ReloadRecord;
use crate::metrics::gauge_family;
use crate::{AppState, Mode};

type App = State<Arc<AppState>>;
type ApiResult<T> = Result<axum::Json<T>, ApiError>;

/// A JSON body whose rejection is an [`ApiError`].
#[derive(Debug, FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub(crate) struct Body<T>(T);

/// Query parameters whose rejection is an [`ApiError`].
#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub(crate) struct Query<T>(T);

/// Path parameters whose rejection is an [`ApiError`].
#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub(crate) struct Path<T>(T);

/// Runs `f` on the blocking pool: the engine blocks (SQLite, plugin calls).
async fn blocking<T, F>(app: &Arc<AppState>, f: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce(&Engine) -> Result<T, ApiError> + Send + 'static,
{
    let app = Arc::clone(app);
    tokio::task::spawn_blocking(move || f(&app.engine))
        .await
        .map_err(|e| ApiError::internal(format!("the request's task failed: {e}")))?
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Tessera API",
        description = "The state of a Tessera project: assets and their partitions (as ranges, never listed key by key), runs, backfills, sensors, schedules, dynamic partitions and plugins. Errors are `{\"error\": {\"code\", \"message\"}}` with a stable code.",
        license(name = "Apache-2.0")
    ),
    components(schemas(ErrorBody)),
    tags(
        (name = "assets", description = "The asset graph and partition status"),
        (name = "runs", description = "Runs and their logs"),
        (name = "backfills", description = "Preview, launch, cancel and resume backfills"),
        (name = "automation", description = "Sensors and schedules"),
        (name = "dynamic", description = "Dynamic partition sets"),
        (name = "plugins", description = "Loaded plugins, reloads and load errors"),
        (name = "server", description = "Health, events, session")
    )
)]
struct ApiDoc;

/// Every API route, with its OpenAPI description.
pub(crate) fn routes() -> OpenApiRouter<Arc<AppState>> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(health))
        .routes(routes!(list_assets))
        .routes(routes!(get_asset))
        .routes(routes!(asset_partitions))
        .routes(routes!(asset_keys))
        .routes(routes!(get_partition))
        .routes(routes!(materialize))
        .routes(routes!(list_runs))
        .routes(routes!(get_run))
        .routes(routes!(list_backfills, launch_backfill))
        .routes(routes!(preview_backfill))
        .routes(routes!(get_backfill))
        .routes(routes!(cancel_backfill))
        .routes(routes!(resume_backfill))
        .routes(routes!(list_sensors))
        .routes(routes!(tick_sensor))
        .routes(routes!(enable_sensor))
        .routes(routes!(disable_sensor))
        .routes(routes!(list_schedules))
        .routes(routes!(list_dynamic))
        .routes(routes!(dynamic_keys, dynamic_add))
        .routes(routes!(dynamic_remove))
        .routes(routes!(list_plugins))
        .routes(routes!(events))
        .routes(routes!(sign_in, sign_out))
        .routes(routes!(openapi_json))
        .routes(routes!(metrics))
}

/// Unknown paths: JSON under the API, and the same for anything else.
pub(crate) async fn not_found(uri: axum::http::Uri) -> ApiError {
    ApiError::not_found(
        "not_found",
        format!(
            "no such path {:?} (the API is described at /api/v1/openapi.json)",
            uri.path()
        ),
    )
}

// ---- server -----------------------------------------------------------------------------

#[derive(Debug, Serialize, ToSchema)]
struct Health {
    ok: bool,
    mode: Mode,
    version: String,
    /// The engine's "now" (RFC 3339): partition existence depends on it.
    now: String,
    /// Whether API requests need a token.
    token_required: bool,
}

/// Liveness, the server's mode and the engine's time. Needs no token.
#[utoipa::path(get, path = "/api/v1/health", tag = "server",
    responses((status = 200, body = Health)))]
async fn health(State(app): App) -> axum::Json<Health> {
    axum::Json(Health {
        ok: true,
        mode: app.mode,
        version: env!("CARGO_PKG_VERSION").to_string(),
        now: app.engine.now().to_rfc3339(),
        token_required: app.token.is_some(),
    })
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct SignIn {
    token: String,
}

/// Signs the browser in: checks the token and keeps it in an HttpOnly, SameSite=Strict cookie.
#[utoipa::path(post, path = "/api/v1/session", tag = "server", request_body = SignIn,
    responses((status = 204, description = "Signed in"), (status = 401, body = ErrorBody)))]
async fn sign_in(State(app): App, Body(body): Body<SignIn>) -> Response {
    let mut headers = HeaderMap::new();
    headers.insert(header::AUTHORIZATION, {
        match format!("Bearer {}", body.token).parse() {
            Ok(v) => v,
            Err(_) => {
                return ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", "wrong token")
                    .into_response();
            }
        }
    });
    if !crate::auth::token_ok(&app, &headers) {
        return ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", "wrong token")
            .into_response();
    }
    let cookie = format!(
        "{}={}; HttpOnly; SameSite=Strict; Path=/",
        crate::auth::COOKIE,
        body.token
    );
    (StatusCode::NO_CONTENT, [(header::SET_COOKIE, cookie)]).into_response()
}

/// Signs the browser out (clears the cookie).
#[utoipa::path(delete, path = "/api/v1/session", tag = "server",
    responses((status = 204, description = "Signed out")))]
async fn sign_out() -> Response {
    let cookie = format!(
        "{}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0",
        crate::auth::COOKIE
    );
    (StatusCode::NO_CONTENT, [(header::SET_COOKIE, cookie)]).into_response()
}

/// This document.
#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "server",
    responses((status = 200, description = "The OpenAPI 3.1 document", content_type = "application/json")))]
async fn openapi_json() -> Response {
    match crate::openapi().to_json() {
        Ok(json) => ([(header::CONTENT_TYPE, "application/json")], json).into_response(),
        Err(e) => {
            ApiError::internal(format!("cannot render the OpenAPI document: {e}")).into_response()
        }
    }
}

// ---- assets -----------------------------------------------------------------------------

#[derive(Debug, Serialize, ToSchema)]
struct PartitionsInfo {
    /// `time_window`, `static`, `dynamic`, `multi`.
    kind: String,
    /// The definition in words.
    description: String,
    /// How many partitions exist now.
    total: u64,
}

#[derive(Debug, Serialize, ToSchema)]
struct InputInfo {
    asset: String,
    /// The partition mapping in words.
    mapping: String,
    allow_missing: bool,
}

#[derive(Debug, Serialize, ToSchema)]
struct AssetSummary {
    key: String,
    plugin: String,
    computation: String,
    description: Option<String>,
    partitions: Option<PartitionsInfo>,
    inputs: Vec<InputInfo>,
    /// Assets that read this one.
    downstream: Vec<String>,
    code_version: String,
    eager: bool,
    pool: Option<String>,
    backfill_policy: String,
    /// Longest path from a source asset (0 for sources): the graph's column.
    depth: usize,
    counts: StatusCounts,
    /// A coarse health bar: bins of the whole asset (materialized, failed and stale counts
    /// per bin).
    bar: Option<tessera_engine::StatusBins>,
}

#[derive(Debug, Serialize, ToSchema)]
struct AssetList {
    assets: Vec<AssetSummary>,
    /// Assets declared but unavailable, with the reason.
    unavailable: BTreeMap<String, String>,
    /// Plugins left out of the graph, with the reason.
    excluded_plugins: BTreeMap<String, String>,
}

/// Bins of a graph node's health bar.
const NODE_BINS: usize = 48;

fn summary(
    engine: &Engine,
    graph: &tessera_engine::AssetGraph,
    node: &tessera_engine::AssetNode,
    depths: &HashMap<String, usize>,
) -> Result<AssetSummary, ApiError> {
    let now = engine.now();
    let view = engine.status_view(
        graph,
        &node.key,
        now,
        &StatusQuery {
            max_ranges: 0,
            bins: NODE_BINS,
            ..StatusQuery::default()
        },
    )?;
    Ok(AssetSummary {
        key: node.key.clone(),
        plugin: node.plugin.clone(),
        computation: node.computation.clone(),
        description: node.description.clone(),
        partitions: node.partitions.as_ref().map(|d| PartitionsInfo {
            kind: d.kind().to_string(),
            description: d.to_string(),
            total: view.total,
        }),
        inputs: node
            .inputs
            .iter()
            .map(|e| InputInfo {
                asset: e.upstream.clone(),
                mapping: e.mapping.to_string(),
                allow_missing: e.allow_missing,
            })
            .collect(),
        downstream: graph
            .downstream_of(&node.key)
            .into_iter()
            .map(|n| n.key.clone())
            .collect(),
        code_version: node.code_version.clone(),
        eager: node.eager,
        pool: node.pool.clone(),
        backfill_policy: node.backfill_policy.to_string(),
        depth: depths.get(&node.key).copied().unwrap_or(0),
        counts: view.counts,
        // With no ranges allowed, any partitions at all come as bins.
        bar: view.bins,
    })
}

/// Each asset's longest path from a source.
fn depths(graph: &tessera_engine::AssetGraph) -> HashMap<String, usize> {
    let mut order: Vec<&tessera_engine::AssetNode> = graph.assets().collect();
    order.sort_by_key(|n| graph.rank(&n.key));
    let mut depth: HashMap<String, usize> = HashMap::new();
    for n in order {
        let d = n
            .inputs
            .iter()
            .filter_map(|e| depth.get(&e.upstream))
            .map(|d| d + 1)
            .max()
            .unwrap_or(0);
        depth.insert(n.key.clone(), d);
    }
    depth
}

/// The asset graph: every asset with its plugin, inputs (and their mappings), partitions
/// definition and health summary.
#[utoipa::path(get, path = "/api/v1/assets", tag = "assets",
    responses((status = 200, body = AssetList)))]
async fn list_assets(State(app): App) -> ApiResult<AssetList> {
    blocking(&app, |engine| {
        let graph = engine.graph()?;
        let depths = depths(&graph);
        let assets = graph
            .assets()
            .map(|n| summary(engine, &graph, n, &depths))
            .collect::<Result<_, _>>()?;
        Ok(axum::Json(AssetList {
            assets,
            unavailable: graph.unavailable().clone(),
            excluded_plugins: engine.excluded_plugins(),
        }))
    })
    .await
}

#[derive(Debug, Serialize, ToSchema)]
struct AssetDetail {
    #[serde(flatten)]
    summary: AssetSummary,
    /// For an unpartitioned asset, its one value in full.
    detail: Option<PartitionDetail>,
    /// The asset's checks: how many partitions' latest results pass, warn and fail.
    checks: Vec<tessera_engine::state::CheckCounts>,
}

/// One asset: its definition, inputs, downstream assets and health summary.
#[utoipa::path(get, path = "/api/v1/assets/{asset}", tag = "assets",
    params(("asset" = String, Path, description = "The asset key")),
    responses((status = 200, body = AssetDetail), (status = 404, body = ErrorBody)))]
async fn get_asset(State(app): App, Path(asset): Path<String>) -> ApiResult<AssetDetail> {
    blocking(&app, move |engine| {
        let graph = engine.graph()?;
        let node = graph
            .asset(&asset)
            .ok_or_else(|| tessera_engine::EngineError::UnknownAsset(asset.clone()))?;
        let summary = summary(engine, &graph, node, &depths(&graph))?;
        let detail = match node.partitions {
            None => Some(engine.show_partition(&graph, &asset, "", engine.now(), 20)?),
            Some(_) => None,
        };
        let checks = engine.check_counts(&asset)?;
        Ok(axum::Json(AssetDetail {
            summary,
            detail,
            checks,
        }))
    })
    .await
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct StatusParams {
    /// The window's first partition index (default 0).
    start: Option<u64>,
    /// The window's last partition index, included (default the last).
    end: Option<u64>,
    /// Only ranges in this state.
    state: Option<PartitionStatus>,
    /// Ranges returned at most (default 2000, at most 100000); beyond, the window is binned.
    max_ranges: Option<usize>,
    /// Bins when binned (default 1000, at most 10000).
    bins: Option<usize>,
    /// Accept a status computed up to this many milliseconds ago even if the state changed
    /// since (default 0: the state as it is; at most 10000). A screen refreshing during a
    /// busy backfill passes a few hundred.
    max_age_ms: Option<u64>,
}

/// An asset's partition status as ranges of partition indices, with the keys at their
/// edges; when a window holds more ranges than `max_ranges`, equal bins with each state's
/// count instead. Costs the recorded partitions, never the definition's size.
#[utoipa::path(get, path = "/api/v1/assets/{asset}/partitions", tag = "assets",
    params(("asset" = String, Path, description = "The asset key"), StatusParams),
    responses((status = 200, body = StatusView), (status = 404, body = ErrorBody),
        (status = 400, body = ErrorBody)))]
async fn asset_partitions(
    State(app): App,
    Path(asset): Path<String>,
    Query(p): Query<StatusParams>,
) -> ApiResult<StatusView> {
    if let (Some(a), Some(b)) = (p.start, p.end)
        && a > b
    {
        return Err(ApiError::bad_request(format!(
            "start ({a}) is after end ({b})"
        )));
    }
    let query = StatusQuery {
        from: p.start.unwrap_or(0),
        to: p.end,
        state: p.state,
        max_ranges: p.max_ranges.unwrap_or(2000).min(100_000),
        bins: p.bins.unwrap_or(1000).clamp(1, 10_000),
        max_age: Duration::from_millis(p.max_age_ms.unwrap_or(0).min(10_000)),
    };
    blocking(&app, move |engine| {
        let graph = engine.graph()?;
        Ok(axum::Json(engine.status_view(
            &graph,
            &asset,
            engine.now(),
            &query,
        )?))
    })
    .await
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct KeyParams {
    /// The first key of the page (default the first partition).
    from: Option<String>,
    /// Keys at most (default 100, at most 10000).
    limit: Option<u64>,
    /// Only partitions in this state.
    state: Option<PartitionStatus>,
}

/// A page of an asset's partition keys, optionally only those in one state; `next` is the
/// key the following page starts with.
#[utoipa::path(get, path = "/api/v1/assets/{asset}/keys", tag = "assets",
    params(("asset" = String, Path, description = "The asset key"), KeyParams),
    responses((status = 200, body = KeyPage), (status = 404, body = ErrorBody),
        (status = 400, body = ErrorBody)))]
async fn asset_keys(
    State(app): App,
    Path(asset): Path<String>,
    Query(p): Query<KeyParams>,
) -> ApiResult<KeyPage> {
    let limit = p.limit.unwrap_or(100).clamp(1, 10_000);
    blocking(&app, move |engine| {
        let graph = engine.graph()?;
        let now = engine.now();
        let page = match p.state {
            Some(s) => {
                engine.partition_keys_in_state(&graph, &asset, s, p.from.as_deref(), limit, now)?
            }
            None => engine.partition_keys(&graph, &asset, p.from.as_deref(), limit, now)?,
        };
        Ok(axum::Json(page))
    })
    .await
}

#[derive(Debug, Serialize, ToSchema)]
struct PartitionPage {
    detail: PartitionDetail,
    /// The newest runs that touched it.
    runs: Vec<RunRecord>,
    /// The events and plugin log lines of the run of its latest materialization or failure.
    logs: Vec<RunEvent>,
}

/// One partition: state, value preview, metadata, code and data versions, staleness reasons,
/// history, runs and the latest run's logs.
#[utoipa::path(get, path = "/api/v1/assets/{asset}/partitions/{key}", tag = "assets",
    params(("asset" = String, Path, description = "The asset key"),
        ("key" = String, Path, description = "The partition key (URL-encoded)")),
    responses((status = 200, body = PartitionPage), (status = 404, body = ErrorBody),
        (status = 400, body = ErrorBody)))]
async fn get_partition(
    State(app): App,
    Path((asset, key)): Path<(String, String)>,
) -> ApiResult<PartitionPage> {
    blocking(&app, move |engine| {
        let graph = engine.graph()?;
        let detail = engine.show_partition(&graph, &asset, &key, engine.now(), 50)?;
        let runs = engine.runs(&RunFilter {
            limit: 20,
            asset: Some(asset.clone()),
            partition: Some(key),
            ..RunFilter::default()
        })?;
        let latest_run = detail
            .failure
            .as_ref()
            .and_then(|f| f.run_id.clone())
            .or_else(|| detail.latest.as_ref().map(|m| m.run_id.clone()));
        let logs = match latest_run {
            Some(r) => engine.run_events(&r)?,
            None => Vec::new(),
        };
        Ok(axum::Json(PartitionPage { detail, runs, logs }))
    })
    .await
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct MaterializeRequest {
    /// The partitions (none: an unpartitioned asset, or every partition).
    #[serde(default)]
    keys: Vec<String>,
}

/// Queues runs materializing partitions of one asset (a daemon executes them).
#[utoipa::path(post, path = "/api/v1/assets/{asset}/materialize", tag = "assets",
    params(("asset" = String, Path, description = "The asset key")),
    request_body = MaterializeRequest,
    responses((status = 202, body = Submitted), (status = 404, body = ErrorBody),
        (status = 400, body = ErrorBody)))]
async fn materialize(
    State(app): App,
    Path(asset): Path<String>,
    Body(body): Body<MaterializeRequest>,
) -> Result<(StatusCode, axum::Json<Submitted>), ApiError> {
    blocking(&app, move |engine| {
        let selection = if body.keys.is_empty() {
            PartitionSelection::All
        } else {
            PartitionSelection::Keys(body.keys)
        };
        let s = engine.submit(
            &[asset],
            &selection,
            Filter::Any,
            RunPolicy::PerPartition,
            false,
            "api",
            engine.now(),
        )?;
        Ok((StatusCode::ACCEPTED, axum::Json(s)))
    })
    .await
}

// ---- runs -------------------------------------------------------------------------------

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct RunParams {
    asset: Option<String>,
    partition: Option<String>,
    /// queued, running, success, failed, canceled, waiting_for_upstream.
    status: Option<String>,
    backfill: Option<String>,
    /// Created at or after (RFC 3339).
    since: Option<String>,
    /// Created before (RFC 3339).
    until: Option<String>,
    /// The previous page's `next_cursor`.
    cursor: Option<String>,
    /// Runs per page (default 50, at most 1000).
    limit: Option<u32>,
}

#[derive(Debug, Serialize, ToSchema)]
struct RunPage {
    /// Newest first.
    runs: Vec<RunRecord>,
    /// Pass as `cursor` for the next page; absent on the last page.
    next_cursor: Option<String>,
}

fn millis(name: &str, v: Option<&str>) -> Result<Option<i64>, ApiError> {
    v.map(|s| {
        chrono::DateTime::parse_from_rfc3339(s)
            .map(|t| t.timestamp_millis())
            .map_err(|e| {
                ApiError::bad_request(format!("{name} {s:?} is not an RFC 3339 time: {e}"))
            })
    })
    .transpose()
}

/// Runs, newest first, filtered, one page at a time (cursor paging: stable while runs are
/// added).
#[utoipa::path(get, path = "/api/v1/runs", tag = "runs", params(RunParams),
    responses((status = 200, body = RunPage), (status = 400, body = ErrorBody)))]
async fn list_runs(State(app): App, Query(p): Query<RunParams>) -> ApiResult<RunPage> {
    let limit = p.limit.unwrap_or(50).clamp(1, 1000);
    let status = p
        .status
        .as_deref()
        .map(str::parse::<RunStatus>)
        .transpose()
        .map_err(ApiError::bad_request)?;
    let filter = RunFilter {
        limit: limit + 1,
        asset: p.asset,
        partition: p.partition,
        status,
        backfill: p.backfill,
        since: millis("since", p.since.as_deref())?,
        until: millis("until", p.until.as_deref())?,
        before: p.cursor.clone(),
    };
    blocking(&app, move |engine| {
        if let Some(c) = &p.cursor
            && engine.run(c)?.is_none()
        {
            return Err(ApiError::bad_request(format!(
                "cursor {c:?} names no run (pass a page's next_cursor)"
            )));
        }
        let mut runs = engine.runs(&filter)?;
        let next_cursor = if runs.len() > limit as usize {
            runs.truncate(limit as usize);
            runs.last().map(|r| r.id.clone())
        } else {
            None
        };
        Ok(axum::Json(RunPage { runs, next_cursor }))
    })
    .await
}

#[derive(Debug, Serialize, ToSchema)]
struct RunDetail {
    run: RunRecord,
    /// Events and plugin log lines, oldest first.
    events: Vec<RunEvent>,
}

/// One run with its events and plugin logs.
#[utoipa::path(get, path = "/api/v1/runs/{run}", tag = "runs",
    params(("run" = String, Path, description = "The run id")),
    responses((status = 200, body = RunDetail), (status = 404, body = ErrorBody)))]
async fn get_run(State(app): App, Path(id): Path<String>) -> ApiResult<RunDetail> {
    blocking(&app, move |engine| {
        let run = engine
            .run(&id)?
            .ok_or_else(|| tessera_engine::EngineError::UnknownRun(id.clone()))?;
        let events = engine.run_events(&id)?;
        Ok(axum::Json(RunDetail { run, events }))
    })
    .await
}

// ---- backfills --------------------------------------------------------------------------

#[derive(Debug, Serialize, ToSchema)]
struct BackfillView {
    backfill: BackfillRecord,
    progress: BackfillProgress,
}

fn backfill_view(engine: &Engine, id: &str) -> Result<BackfillView, ApiError> {
    let backfill = engine
        .backfill(id)?
        .ok_or_else(|| tessera_engine::EngineError::UnknownBackfill(id.to_string()))?;
    let progress = engine.backfill_progress(id)?;
    Ok(BackfillView { backfill, progress })
}

/// Every backfill with its progress, newest first.
#[utoipa::path(get, path = "/api/v1/backfills", tag = "backfills",
    responses((status = 200, body = Vec<BackfillView>)))]
async fn list_backfills(State(app): App) -> ApiResult<Vec<BackfillView>> {
    blocking(&app, |engine| {
        let mut out = Vec::new();
        for b in engine.backfills()? {
            let progress = engine.backfill_progress(&b.id)?;
            out.push(BackfillView {
                backfill: b,
                progress,
            });
        }
        Ok(axum::Json(out))
    })
    .await
}

/// One backfill and its progress.
#[utoipa::path(get, path = "/api/v1/backfills/{backfill}", tag = "backfills",
    params(("backfill" = String, Path, description = "The backfill id")),
    responses((status = 200, body = BackfillView), (status = 404, body = ErrorBody)))]
async fn get_backfill(State(app): App, Path(id): Path<String>) -> ApiResult<BackfillView> {
    blocking(&app, move |engine| {
        backfill_view(engine, &id).map(axum::Json)
    })
    .await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct RangeBody {
    start: String,
    end: String,
}

/// A backfill to preview or launch.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct LaunchRequest {
    assets: Vec<String>,
    /// From this key to that one, both included.
    range: Option<RangeBody>,
    /// These keys (with neither `range` nor `keys`: every partition).
    #[serde(default)]
    keys: Vec<String>,
    /// Only partitions that are missing, failed or stale (default any).
    #[serde(default)]
    filter: Filter,
    /// Up to this many partitions per run (the asset's backfill policy bounds it).
    max_per_run: Option<u64>,
    /// One run over each contiguous range.
    #[serde(default)]
    single_run: bool,
}

impl LaunchRequest {
    fn selection(&self) -> Result<(PartitionSelection, RunPolicy), ApiError> {
        if self.assets.is_empty() {
            return Err(ApiError::bad_request("give at least one asset"));
        }
        let selection = match (&self.range, self.keys.is_empty()) {
            (Some(_), false) => {
                return Err(ApiError::bad_request("give a range or keys, not both"));
            }
            (Some(r), true) => {
                PartitionSelection::Range(tessera_partitions::KeyRange::new(&r.start, &r.end))
            }
            (None, false) => PartitionSelection::Keys(self.keys.clone()),
            (None, true) => PartitionSelection::All,
        };
        let policy = match (self.single_run, self.max_per_run) {
            (true, Some(_)) => {
                return Err(ApiError::bad_request(
                    "give single_run or max_per_run, not both",
                ));
            }
            (true, None) => RunPolicy::SingleRun,
            (false, Some(0)) => {
                return Err(ApiError::bad_request("max_per_run must be at least 1"));
            }
            (false, Some(n)) => RunPolicy::MaxPerRun(n),
            (false, None) => RunPolicy::PerPartition,
        };
        Ok((selection, policy))
    }
}

/// How many partitions and runs a launch would create, per asset, without creating them.
#[utoipa::path(post, path = "/api/v1/backfills/preview", tag = "backfills",
    request_body = LaunchRequest,
    responses((status = 200, body = PlanPreview), (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
async fn preview_backfill(
    State(app): App,
    Body(req): Body<LaunchRequest>,
) -> ApiResult<PlanPreview> {
    let (selection, policy) = req.selection()?;
    blocking(&app, move |engine| {
        Ok(axum::Json(engine.preview(
            &req.assets,
            &selection,
            req.filter,
            policy,
            engine.now(),
        )?))
    })
    .await
}

/// Launches a backfill: plans and queues its runs (a daemon executes them).
#[utoipa::path(post, path = "/api/v1/backfills", tag = "backfills",
    request_body = LaunchRequest,
    responses((status = 201, body = Submitted), (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
async fn launch_backfill(
    State(app): App,
    Body(req): Body<LaunchRequest>,
) -> Result<(StatusCode, axum::Json<Submitted>), ApiError> {
    let (selection, policy) = req.selection()?;
    let hub = app.hub.clone();
    blocking(&app, move |engine| {
        let s = engine.submit(
            &req.assets,
            &selection,
            req.filter,
            policy,
            true,
            "api",
            engine.now(),
        )?;
        hub.send("backfill_launched", &s);
        Ok((StatusCode::CREATED, axum::Json(s)))
    })
    .await
}

#[derive(Debug, Serialize, ToSchema)]
struct Canceled {
    backfill: String,
    runs_canceled: u64,
    status: BackfillStatus,
}

/// Cancels a backfill: its queued runs are canceled, running runs stop after their current
/// partition.
#[utoipa::path(post, path = "/api/v1/backfills/{backfill}/cancel", tag = "backfills",
    params(("backfill" = String, Path, description = "The backfill id")),
    responses((status = 200, body = Canceled), (status = 404, body = ErrorBody)))]
async fn cancel_backfill(State(app): App, Path(id): Path<String>) -> ApiResult<Canceled> {
    blocking(&app, move |engine| {
        backfill_view(engine, &id)?;
        let (runs_canceled, status) = engine.cancel_backfill(&id)?;
        Ok(axum::Json(Canceled {
            backfill: id,
            runs_canceled,
            status,
        }))
    })
    .await
}

/// Reopens a backfill that ended without completing, so its remaining runs run again.
#[utoipa::path(post, path = "/api/v1/backfills/{backfill}/resume", tag = "backfills",
    params(("backfill" = String, Path, description = "The backfill id")),
    responses((status = 200, body = BackfillProgress), (status = 404, body = ErrorBody)))]
async fn resume_backfill(State(app): App, Path(id): Path<String>) -> ApiResult<BackfillProgress> {
    blocking(&app, move |engine| {
        let p = engine
            .resume_backfill(&id)?
            .ok_or_else(|| tessera_engine::EngineError::UnknownBackfill(id.clone()))?;
        Ok(axum::Json(p))
    })
    .await
}

// ---- sensors and schedules --------------------------------------------------------------

#[derive(Debug, Serialize, ToSchema)]
struct SensorView {
    name: String,
    plugin: String,
    description: Option<String>,
    targets: Vec<String>,
    minimum_interval_secs: f64,
    state: tessera_engine::state::SensorState,
}

/// Every sensor with its cursor, last evaluation, skip reason and error.
#[utoipa::path(get, path = "/api/v1/sensors", tag = "automation",
    responses((status = 200, body = Vec<SensorView>)))]
async fn list_sensors(State(app): App) -> ApiResult<Vec<SensorView>> {
    blocking(&app, |engine| {
        let graph = engine.graph()?;
        let mut out = Vec::new();
        for (name, s) in graph.sensors() {
            out.push(SensorView {
                name: name.clone(),
                plugin: s.plugin.clone(),
                description: s.spec.description.clone(),
                targets: s.spec.targets.clone(),
                minimum_interval_secs: s.spec.minimum_interval.as_secs_f64(),
                state: engine.sensor_state(name)?,
            });
        }
        Ok(axum::Json(out))
    })
    .await
}

/// Evaluates a sensor now: records its tick and queues the runs it asks for.
#[utoipa::path(post, path = "/api/v1/sensors/{sensor}/tick", tag = "automation",
    params(("sensor" = String, Path, description = "The sensor name")),
    responses((status = 200, body = SensorOutcome), (status = 404, body = ErrorBody)))]
async fn tick_sensor(State(app): App, Path(name): Path<String>) -> ApiResult<SensorOutcome> {
    blocking(&app, move |engine| {
        Ok(axum::Json(engine.tick_sensor(&name, engine.now())?))
    })
    .await
}

#[derive(Debug, Serialize, ToSchema)]
struct SensorSwitch {
    sensor: String,
    enabled: bool,
}

/// Turns a sensor on again: the daemon evaluates it at its interval.
#[utoipa::path(post, path = "/api/v1/sensors/{sensor}/enable", tag = "automation",
    params(("sensor" = String, Path, description = "The sensor name")),
    responses((status = 200, body = SensorSwitch), (status = 404, body = ErrorBody)))]
async fn enable_sensor(State(app): App, Path(name): Path<String>) -> ApiResult<SensorSwitch> {
    switch_sensor(&app, name, true).await
}

/// Turns a sensor off: the daemon skips it (a tick asked for by hand still runs).
#[utoipa::path(post, path = "/api/v1/sensors/{sensor}/disable", tag = "automation",
    params(("sensor" = String, Path, description = "The sensor name")),
    responses((status = 200, body = SensorSwitch), (status = 404, body = ErrorBody)))]
async fn disable_sensor(State(app): App, Path(name): Path<String>) -> ApiResult<SensorSwitch> {
    switch_sensor(&app, name, false).await
}

async fn switch_sensor(
    app: &Arc<AppState>,
    name: String,
    enabled: bool,
) -> ApiResult<SensorSwitch> {
    let hub = app.hub.clone();
    blocking(app, move |engine| {
        engine.set_sensor_enabled(&name, enabled)?;
        let switch = SensorSwitch {
            sensor: name,
            enabled,
        };
        hub.send("sensor_switched", &switch);
        Ok(axum::Json(switch))
    })
    .await
}

/// Every configured schedule with its last and next tick.
#[utoipa::path(get, path = "/api/v1/schedules", tag = "automation",
    responses((status = 200, body = Vec<ScheduleView>)))]
async fn list_schedules(State(app): App) -> ApiResult<Vec<ScheduleView>> {
    let specs = app.schedules.clone();
    blocking(&app, move |engine| {
        Ok(axum::Json(engine.schedules(&specs, engine.now())?))
    })
    .await
}

// ---- dynamic partitions -----------------------------------------------------------------

#[derive(Debug, Serialize, ToSchema)]
struct DynamicSet {
    name: String,
    keys: u64,
}

/// The dynamic partition sets the loaded definitions use, with their sizes.
#[utoipa::path(get, path = "/api/v1/dynamic", tag = "dynamic",
    responses((status = 200, body = Vec<DynamicSet>)))]
async fn list_dynamic(State(app): App) -> ApiResult<Vec<DynamicSet>> {
    blocking(&app, |engine| {
        let mut out = Vec::new();
        for name in engine.graph()?.dynamic_sets() {
            let keys = engine.dynamic_keys(&name)?.len() as u64;
            out.push(DynamicSet { name, keys });
        }
        Ok(axum::Json(out))
    })
    .await
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct PageParams {
    /// Index of the first key (default 0).
    offset: Option<u64>,
    /// Keys at most (default 100, at most 10000).
    limit: Option<u64>,
}

#[derive(Debug, Serialize, ToSchema)]
struct DynamicPage {
    name: String,
    total: u64,
    offset: u64,
    keys: Vec<String>,
}

/// A page of a dynamic set's keys, in the order they were added.
#[utoipa::path(get, path = "/api/v1/dynamic/{name}", tag = "dynamic",
    params(("name" = String, Path, description = "The set's name"), PageParams),
    responses((status = 200, body = DynamicPage)))]
async fn dynamic_keys(
    State(app): App,
    Path(name): Path<String>,
    Query(p): Query<PageParams>,
) -> ApiResult<DynamicPage> {
    let offset = p.offset.unwrap_or(0);
    let limit = p.limit.unwrap_or(100).clamp(1, 10_000);
    blocking(&app, move |engine| {
        let all = engine.dynamic_keys(&name)?;
        let total = all.len() as u64;
        let keys = all
            .into_iter()
            .skip(usize::try_from(offset).unwrap_or(usize::MAX))
            .take(limit as usize)
            .collect();
        Ok(axum::Json(DynamicPage {
            name,
            total,
            offset,
            keys,
        }))
    })
    .await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct KeysBody {
    keys: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
struct Changed {
    name: String,
    /// Keys added or removed (keys already present, or absent, do not count).
    changed: u64,
}

fn check_keys(keys: &[String]) -> Result<(), ApiError> {
    if keys.is_empty() {
        return Err(ApiError::bad_request("give at least one key"));
    }
    Ok(())
}

/// Adds keys to a dynamic set (only to a set a loaded definition uses).
#[utoipa::path(post, path = "/api/v1/dynamic/{name}", tag = "dynamic",
    params(("name" = String, Path, description = "The set's name")), request_body = KeysBody,
    responses((status = 200, body = Changed), (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
async fn dynamic_add(
    State(app): App,
    Path(name): Path<String>,
    Body(body): Body<KeysBody>,
) -> ApiResult<Changed> {
    check_keys(&body.keys)?;
    blocking(&app, move |engine| {
        if !engine.graph()?.dynamic_sets().contains(&name) {
            return Err(ApiError::not_found(
                "unknown_dynamic_set",
                format!("no loaded definition uses the dynamic set {name:?}"),
            ));
        }
        let changed = engine.dynamic_add(&name, &body.keys)?;
        Ok(axum::Json(Changed { name, changed }))
    })
    .await
}

/// Removes keys from a dynamic set (their recorded partitions stay, shown apart).
#[utoipa::path(post, path = "/api/v1/dynamic/{name}/remove", tag = "dynamic",
    params(("name" = String, Path, description = "The set's name")), request_body = KeysBody,
    responses((status = 200, body = Changed), (status = 400, body = ErrorBody)))]
async fn dynamic_remove(
    State(app): App,
    Path(name): Path<String>,
    Body(body): Body<KeysBody>,
) -> ApiResult<Changed> {
    check_keys(&body.keys)?;
    blocking(&app, move |engine| {
        let changed = engine.dynamic_remove(&name, &body.keys)?;
        Ok(axum::Json(Changed { name, changed }))
    })
    .await
}

// ---- plugins ----------------------------------------------------------------------------

#[derive(Debug, Serialize, ToSchema)]
struct PluginView {
    name: String,
    path: String,
    version: String,
    api_version: String,
    size_bytes: u64,
    from_cache: bool,
    compile_ms: f64,
    load_ms: f64,
    assets: Vec<String>,
    sensors: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
struct LoadErrorView {
    path: String,
    version: Option<String>,
    error: String,
    /// Unix seconds.
    at: u64,
}

#[derive(Debug, Serialize, ToSchema)]
struct PluginList {
    plugins: Vec<PluginView>,
    /// The latest load failure per plugin file (the previous version keeps serving).
    errors: BTreeMap<String, LoadErrorView>,
    /// Plugins that load but do not fit the asset graph, with the reason.
    excluded: BTreeMap<String, String>,
    /// Loads, failed reloads and removals seen by this server, newest first.
    reloads: Vec<ReloadRecord>,
}

/// Loaded plugin versions, load errors and the reload history with timings.
#[utoipa::path(get, path = "/api/v1/plugins", tag = "plugins",
    responses((status = 200, body = PluginList)))]
async fn list_plugins(State(app): App) -> ApiResult<PluginList> {
    let reloads = app.hub.reloads();
    blocking(&app, move |engine| {
        let registry = engine.registry();
        let plugins = registry
            .plugins()
            .iter()
            .map(|p| {
                let stats = p.stats();
                let defs = p.definitions();
                PluginView {
                    name: p.name().to_string(),
                    path: p.path().display().to_string(),
                    version: p.code_version().to_string(),
                    api_version: p.api_version().to_string(),
                    size_bytes: stats.size_bytes,
                    from_cache: stats.from_cache,
                    compile_ms: stats.compile.as_secs_f64() * 1000.0,
                    load_ms: stats.total.as_secs_f64() * 1000.0,
                    assets: defs
                        .computations
                        .iter()
                        .flat_map(|c| c.assets.iter().map(|a| a.key.clone()))
                        .collect(),
                    sensors: defs.sensors.iter().map(|s| s.name.clone()).collect(),
                }
            })
            .collect();
        let errors = registry
            .errors()
            .into_iter()
            .map(|(name, f)| {
                let at =
                    f.at.duration_since(std::time::UNIX_EPOCH)
                        .map_or(0, |d| d.as_secs());
                (
                    name,
                    LoadErrorView {
                        path: f.path.display().to_string(),
                        version: f.version,
                        error: f.error,
                        at,
                    },
                )
            })
            .collect();
        Ok(axum::Json(PluginList {
            plugins,
            errors,
            excluded: engine.excluded_plugins(),
            reloads,
        }))
    })
    .await
}

// ---- events and metrics -----------------------------------------------------------------

/// Server-sent events: `run_started`, `run_finished`, `registry` (loads, failed reloads,
/// removals), `sensor_tick`, `schedule_tick`, `backfill_launched`, `backfill_progress`,
/// `state_changed` (runs changed by another process), and `lagged` when this client fell
/// behind and missed events (refetch what you show). Each event's data is JSON.
#[utoipa::path(get, path = "/api/v1/events", tag = "server",
    responses((status = 200, description = "An event stream", content_type = "text/event-stream")))]
async fn events(
    State(app): App,
) -> Sse<impl futures_util::Stream<Item = Result<Event, Infallible>>> {
    let rx = app.hub.subscribe();
    let stop = app.stop.subscribe();
    let first = Event::default().event("ready").data("{}");
    let stream = futures_util::stream::unfold(
        (rx, stop, Some(first)),
        |(mut rx, mut stop, first)| async move {
            if let Some(e) = first {
                return Some((Ok(e), (rx, stop, None)));
            }
            if *stop.borrow() {
                return None;
            }
            let event = tokio::select! {
                r = rx.recv() => match r {
                    Ok(e) => Event::default().event(e.name).data(&*e.json),
                    Err(RecvError::Lagged(n)) => Event::default()
                        .event("lagged")
                        .data(format!("{{\"missed\":{n}}}")),
                    Err(RecvError::Closed) => return None,
                },
                _ = stop.changed() => return None,
            };
            Some((Ok(event), (rx, stop, None)))
        },
    );
    Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}

/// Prometheus metrics (text format 0.0.4).
#[utoipa::path(get, path = "/metrics", tag = "server",
    responses((status = 200, description = "Prometheus text format", content_type = "text/plain")))]
async fn metrics(State(app): App) -> Result<Response, ApiError> {
    let metrics = Arc::clone(app.hub.metrics());
    let gauges = blocking(&app, |engine| {
        let mut out = String::new();
        let counts = engine.run_counts()?;
        let rows: Vec<_> = counts
            .iter()
            .map(|(s, n)| (vec![("status", s.as_str())], *n as f64))
            .collect();
        gauge_family(
            &mut out,
            "tessera_runs",
            "Runs in the state by status (the queue depth is status=\"queued\").",
            &rows,
        );
        let mut done = Vec::new();
        for b in engine.backfills()? {
            if b.status != BackfillStatus::Running {
                continue;
            }
            let p = engine.backfill_progress(&b.id)?;
            done.push((b.id, p));
        }
        let mut rows = Vec::new();
        for (id, p) in &done {
            rows.push((
                vec![("backfill", id.as_str()), ("state", "done")],
                p.partitions_done as f64,
            ));
            rows.push((
                vec![("backfill", id.as_str()), ("state", "failed")],
                p.partitions_failed as f64,
            ));
            rows.push((
                vec![("backfill", id.as_str()), ("state", "total")],
                p.partitions_total as f64,
            ));
        }
        gauge_family(
            &mut out,
            "tessera_backfill_partitions",
            "Partitions of running backfills.",
            &rows,
        );
        let graph = engine.graph()?;
        let mut evals = Vec::new();
        let mut skipped = Vec::new();
        for name in graph.sensors().keys() {
            let st = engine.sensor_state(name)?;
            evals.push((name.clone(), st.evaluations as f64));
            skipped.push((
                name.clone(),
                if st.last_skip_reason.is_some() {
                    1.0
                } else {
                    0.0
                },
            ));
        }
        let rows: Vec<_> = evals
            .iter()
            .map(|(n, v)| (vec![("sensor", n.as_str())], *v))
            .collect();
        gauge_family(
            &mut out,
            "tessera_sensor_evaluations",
            "Evaluations recorded per sensor.",
            &rows,
        );
        let rows: Vec<_> = skipped
            .iter()
            .map(|(n, v)| (vec![("sensor", n.as_str())], *v))
            .collect();
        gauge_family(
            &mut out,
            "tessera_sensor_last_skipped",
            "1 when a sensor's last evaluation was skipped.",
            &rows,
        );
        let rows = vec![(Vec::new(), engine.registry().plugins().len() as f64)];
        gauge_family(
            &mut out,
            "tessera_plugins_serving",
            "Plugins serving.",
            &rows,
        );
        Ok(out)
    })
    .await?;
    Ok((
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        metrics.render(&gauges),
    )
        .into_response())
}

/// What the state looked like at the last poll: the newest run and the runs per status.
type Seen = (Option<String>, Vec<(String, u64)>);

/// Turns finished runs into `backfill_progress` events, at most four a second per backfill,
/// and — when no daemon runs in this process — notices runs changed by another process
/// (`state_changed`, once a second at most).
pub(crate) fn spawn_progress_task(app: &Arc<AppState>) {
    let app = Arc::clone(app);
    let mut rx = app.hub.subscribe();
    let mut stop = app.stop.subscribe();
    tokio::spawn(async move {
        let mut dirty: Vec<String> = Vec::new();
        let mut tick = tokio::time::interval(Duration::from_millis(250));
        let mut last_seen: Option<Seen> = None;
        let mut polls = 0u32;
        loop {
            tokio::select! {
                r = rx.recv() => match r {
                    Ok(e) if e.name == "run_finished" => {
                        if let Ok(v) = serde_json::from_str::<serde_json::Value>(&e.json)
                            && let Some(run) = v.get("run").and_then(|r| r.as_str())
                        {
                            dirty.push(run.to_string());
                        }
                    }
                    Ok(_) | Err(RecvError::Lagged(_)) => {}
                    Err(RecvError::Closed) => return,
                },
                _ = tick.tick() => {
                    polls += 1;
                    let poll = app.mode == Mode::Serve && polls.is_multiple_of(4);
                    if dirty.is_empty() && !poll {
                        continue;
                    }
                    let runs = std::mem::take(&mut dirty);
                    let seen = last_seen.clone();
                    let hub = app.hub.clone();
                    let result = blocking(&app, move |engine| {
                        let mut backfills: Vec<String> = Vec::new();
                        for r in &runs {
                            if let Some(b) = engine.run(r)?.and_then(|r| r.backfill_id)
                                && !backfills.contains(&b)
                            {
                                backfills.push(b);
                            }
                        }
                        for b in backfills {
                            let view = backfill_view(engine, &b)?;
                            hub.send("backfill_progress", &view);
                        }
                        if !poll {
                            return Ok(seen);
                        }
                        let newest = engine
                            .runs(&RunFilter { limit: 1, ..RunFilter::default() })?
                            .into_iter()
                            .next()
                            .map(|r| r.id);
                        let now = Some((newest, engine.run_counts()?));
                        if seen.is_some() && now != seen {
                            hub.send("state_changed", &serde_json::json!({}));
                        }
                        Ok(now)
                    })
                    .await;
                    match result {
                        Ok(s) => last_seen = s,
                        Err(e) => tracing::warn!(error = %e.message, "progress events"),
                    }
                }
                _ = stop.changed() => return,
            }
        }
    });
}
