//! Builds the application (storage, routes, layers) and runs it until a shutdown signal.
//! Tests build it with port 0 and talk to it over real HTTP.

use crate::config::Config;
use crate::store::backend::Backend;
use crate::store::CatalogueCache;
use anyhow::Context;
use app::state::AppState;
use app::{shell, App};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::HeaderValue;
use axum::Router;
use leptos::config::LeptosOptions;
use leptos::prelude::provide_context;
use leptos_axum::{generate_route_list, LeptosRoutes};
use std::path::Path;
use std::sync::Arc;
use tokio::net::TcpListener;
use tower::ServiceBuilder;
use tower_http::compression::CompressionLayer;
use tower_http::services::ServeDir;
use tower_http::set_header::SetResponseHeaderLayer;

pub struct Application {
    listener: TcpListener,
    router: Router,
    port: u16,
    backend: Backend,
    usher: tokio::task::JoinHandle<()>,
    expiry: tokio::task::JoinHandle<()>,
    expiry_passes: crate::admin::orders::ExpiryPasses,
    live_task: tokio::task::JoinHandle<()>,
    /// The shoppers' live news, and its reading task.
    news: Arc<crate::live::feed::ShopNews>,
    news_task: tokio::task::JoinHandle<()>,
    connection_limits: crate::edge::serve::ConnectionLimits,
    /// `/metrics` on its own address, when served.
    metrics: Option<(TcpListener, Router)>,
    /// The data directory's free space, watched while the shop runs.
    _disk: Arc<crate::ops::disk_space::DiskSpace>,
}

/// The per-client allowance all servers share: only several servers (Postgres) need one.
fn shared_allowance(
    backend: &Backend,
    per_sec: u32,
) -> Option<Arc<dyn crate::store::SharedAllowance>> {
    match backend {
        Backend::Postgres(p) if per_sec > 0 => Some(Arc::new(p.shared_allowance(
            per_sec.saturating_mul(10),
            crate::edge::rate_limit::SHARED_WINDOW,
        ))),
        _ => None,
    }
}

impl Application {
    /// Opens and migrates the database, seeds the demo catalogue if asked, and binds the address
    /// (port 0 picks a free one).
    pub async fn build(config: Config) -> anyhow::Result<Application> {
        crate::ops::private_files::from_now_on();
        std::fs::create_dir_all(&config.data_dir).with_context(|| {
            format!(
                "cannot create the data directory {}",
                config.data_dir.display()
            )
        })?;
        raise_open_file_limit();
        let backend = Backend::open(
            &config.database_url(),
            config.clock.clone(),
            config.seed_demo,
        )
        .await?;
        // an older install's files (a 0644 database, say) become the shop's alone too
        match crate::ops::private_files::tighten(&config.data_dir) {
            Ok(0) => {}
            Ok(n) => tracing::info!(
                files = n,
                "took group and other permissions off the data directory's files"
            ),
            Err(e) => tracing::warn!(
                error = %e,
                dir = %config.data_dir.display(),
                "cannot make the data directory the shop's alone"
            ),
        }
        let signer =
            app::tokens::Signer::new(&config.signing_key()?).map_err(anyhow::Error::msg)?;
        let pulse = Arc::new(app::pulse::Pulse::default());
        let catalogue = Arc::new(CatalogueCache::new(backend.store(), config.catalogue_cache));
        let pages =
            crate::edge::page_cache::PageCache::new(catalogue.clone(), reload_port(&config))
                .filter(|_| config.page_cache)
                .map(Arc::new);
        let mut state = AppState::new(
            catalogue.clone(),
            backend.queue(),
            signer,
            app::admission::Admission::new(
                config.max_orders_in_flight,
                config.order_wait_budget,
                backend.ports().pace(),
            ),
            config.secure_cookies,
            pulse.clone(),
            config.lookups_per_min,
        );
        state.unpaid_expiry = config.unpaid_expiry;
        state.clock = config.clock.clone();
        let connections = app::strain::Strain::new(config.max_connections);
        state.connections = connections.clone();
        let usher = crate::desk::usher::spawn(backend.queue(), config.queue_tick);
        // release builds only: under `cargo leptos watch` every rebuild would recompress a
        // multi-megabyte debug bundle for nothing
        if !cfg!(debug_assertions) {
            crate::edge::assets::spawn_precompress(&config.site_root);
        }
        // pictures uploaded before the 320 px size existed get it (pages offer it in srcset)
        let media = config.data_dir.join("media");
        tokio::task::spawn_blocking(move || {
            match crate::admin::pictures::add_missing_smallest(&media) {
                Ok(0) => {}
                Ok(n) => tracing::info!(pictures = n, "made the 320 px size of older pictures"),
                Err(e) => {
                    tracing::warn!(error = %e, "could not make the 320 px size of older pictures")
                }
            }
        });
        let limits = crate::edge::rate_limit::ClientLimits::new(
            config.rate_limit_per_sec,
            config.trust_proxy,
            shared_allowance(&backend, config.rate_limit_per_sec),
            pulse.clone(),
        );
        let disk = crate::ops::disk_space::DiskSpace::start(
            config.data_dir.clone(),
            config.disk_warn_bytes,
        );
        let (live, live_task) = crate::admin::live::LiveFeed::start(
            backend.db(),
            pulse.clone(),
            crate::admin::live::ServerHealth {
                disk: disk.clone(),
                desk: state.order_admission.pace(),
            },
            config.clock.clone(),
        );
        let admin = Arc::new(crate::admin::AdminState {
            live,
            db: backend.db(),
            secure_cookies: config.secure_cookies,
            trust_proxy: config.trust_proxy,
            setup_code: crate::admin::setup_code(&config.signing_key()?),
            media_dir: config.data_dir.join("media"),
            signer: Arc::new(
                app::tokens::Signer::new(&config.signing_key()?).map_err(anyhow::Error::msg)?,
            ),
            hashers: crate::admin::hashing::Hashers::new()
                .context("cannot start the password-hashing threads")?,
            login_limits: crate::admin::login::LoginLimits::new(config.login_hashes_per_sec),
            catalogue: catalogue.clone(),
            clock: config.clock.clone(),
            rehearsals: crate::admin::rehearsals::Rehearsals {
                server: std::env::current_exe().context("cannot find the server binary")?,
            },
        });
        // always: each sale has its own payment window even when the shop-wide one is off
        let expiry_passes = crate::admin::orders::ExpiryPasses::default();
        let expiry = crate::admin::orders::spawn_expiry(
            admin.clone(),
            config.unpaid_expiry,
            config.expiry_check,
            config.clock.clone(),
            expiry_passes.clone(),
        );
        let (news, news_task) = crate::live::feed::ShopNews::start(
            backend.store(),
            backend.ports(),
            crate::live::feed::Caps {
                total: config.max_live,
                per_client: config.max_live_per_client,
            },
        );
        let monitoring = config.metrics_addr.and_then(|addr| {
            let monitoring = crate::ops::monitoring::Monitoring::new(
                config
                    .metrics_token
                    .as_ref()
                    .map(secrecy::ExposeSecret::expose_secret),
                backend.db(),
                {
                    let news = news.clone();
                    Arc::new(move || news.listening())
                },
                connections.clone(),
                state.order_admission.clone(),
                backend.name(),
                disk.clone(),
            )?;
            match listen(addr) {
                Ok(listener) => Some((listener, crate::ops::monitoring::router(monitoring))),
                // the shop serves its shoppers all the same
                Err(e) => {
                    tracing::warn!(%addr, error = %e, "metrics not served: cannot listen on HOLDFAST_METRICS_ADDR");
                    None
                }
            }
        });
        let router = router(
            state,
            pages,
            limits,
            admin.clone(),
            catalogue,
            news.clone(),
            &config,
        );
        // outermost: every answer is counted, refusals included
        let router = if monitoring.is_some() {
            router.layer(axum::middleware::from_fn(
                crate::ops::monitoring::count_request,
            ))
        } else {
            router
        };
        // HTTP spans (tower-http's trace layer: `RUST_LOG=tower_http=debug` logs each answer
        // with its status and time) inside the request's own span (its id and route), and the
        // id on every answer, refusals included
        let router = router
            .layer(
                tower_http::trace::TraceLayer::new_for_http().make_span_with(
                    |_: &axum::http::Request<axum::body::Body>| tracing::debug_span!("http"),
                ),
            )
            .layer(axum::middleware::from_fn_with_state(
                config.trust_proxy,
                crate::edge::request_id::tag,
            ));
        let listener =
            listen(config.addr).with_context(|| format!("cannot listen on {}", config.addr))?;
        let port = listener.local_addr().context("no local address")?.port();
        crate::admin::announce_setup(&admin, &format!("http://{}", config.addr), &config.data_dir)
            .await;
        Ok(Application {
            listener,
            router,
            port,
            backend,
            usher,
            expiry,
            expiry_passes,
            live_task,
            news,
            news_task,
            connection_limits: crate::edge::serve::ConnectionLimits {
                header_timeout: config.header_timeout,
                body_timeout: config.body_timeout,
                connections,
                per_client: (!config.trust_proxy).then_some(config.max_connections_per_client),
            },
            metrics: monitoring,
            _disk: disk,
        })
    }

    /// The unpaid-order expiry task's finished passes.
    pub fn expiry_passes(&self) -> crate::admin::orders::ExpiryPasses {
        self.expiry_passes.clone()
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The port `/metrics` is served on, if it is.
    pub fn metrics_port(&self) -> Option<u16> {
        self.metrics
            .as_ref()
            .and_then(|(listener, _)| listener.local_addr().ok())
            .map(|a| a.port())
    }

    /// Serves until SIGINT/SIGTERM, then finishes in-flight requests and closes the database.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        tracing::info!(
            "Holdfast is serving on http://{}",
            self.listener.local_addr()?
        );
        let metrics = self.metrics.map(|(listener, router)| {
            if let Ok(addr) = listener.local_addr() {
                tracing::info!("metrics on http://{addr}/metrics");
            }
            tokio::spawn(async move {
                if let Err(e) = axum::serve(listener, router).await {
                    tracing::warn!(error = %e, "metrics listener stopped");
                }
            })
        });
        // stopping ends the shoppers' live streams, so that their requests finish too
        let news = self.news.clone();
        let stop = async move {
            shutdown_signal().await;
            news.close();
        };
        crate::edge::serve::serve(self.listener, self.router, self.connection_limits, stop).await;
        self.news_task.abort();
        self.usher.abort();
        self.live_task.abort();
        self.expiry.abort();
        if let Some(metrics) = metrics {
            metrics.abort();
        }
        self.backend.close().await;
        Ok(())
    }
}

/// A surge means thousands of open connections, each a file descriptor: lift the soft limit to
/// the hard one (often 1,024 → 1,048,576).
fn raise_open_file_limit() {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => tracing::debug!(limit, "open-file limit"),
        Err(e) => tracing::warn!(error = %e, "could not raise the open-file limit"),
    }
}

/// The port of `cargo leptos watch`'s live reload, in debug builds only.
fn reload_port(config: &Config) -> Option<u32> {
    cfg!(debug_assertions).then_some(config.leptos_options().reload_port)
}

fn router(
    state: AppState,
    pages: Option<Arc<crate::edge::page_cache::PageCache>>,
    limits: Option<Arc<crate::edge::rate_limit::ClientLimits>>,
    admin: Arc<crate::admin::AdminState>,
    catalogue: Arc<CatalogueCache>,
    news: Arc<crate::live::feed::ShopNews>,
    config: &Config,
) -> Router {
    let shop = RouterState {
        options: Arc::new(config.leptos_options()),
    };
    let routes = generate_route_list(App);
    // leptos_routes_with_context also mounts every server function at /api/<endpoint>, with the
    // same context
    // bundles: precompressed .br/.gz when present; kept forever when the name has their hash
    let pkg = axum::routing::get_service(
        ServeDir::new(Path::new(&config.site_root).join("pkg"))
            .precompressed_br()
            .precompressed_gzip(),
    )
    .layer(axum::middleware::from_fn(
        crate::edge::assets::bundle_cache_control,
    ));
    let store = state.store.clone();
    let api_signer = state.signer.clone();
    let desk = state.order_admission.pace();
    let secure_cookies = config.secure_cookies;
    let live = crate::live::stream::Live {
        news,
        signer: state.signer.clone(),
        queue: state.queue.clone(),
        trust_proxy: config.trust_proxy,
    };
    Router::<RouterState>::new()
        .route(
            "/healthz",
            axum::routing::get(move || crate::ops::health::healthz(store.clone(), desk.clone())),
        )
        .nest_service("/pkg", pkg)
        // the shop's stylesheet for the few pages made outside Leptos (pages inline it)
        .route(
            "/shop.css",
            axum::routing::get(|| async {
                (
                    [
                        (CONTENT_TYPE, "text/css; charset=utf-8"),
                        (CACHE_CONTROL, "public, max-age=3600"),
                    ],
                    app::STYLE,
                )
            }),
        )
        .nest_service("/media", media(&config.data_dir.join("media")))
        .route(
            "/shop-pictures/{hash}",
            axum::routing::get(crate::edge::shop_look::picture).with_state(admin.db.clone()),
        )
        .route(
            "/language/{tag}",
            axum::routing::get(move |tag, back| {
                crate::edge::language_switch::switch(tag, back, secure_cookies)
            }),
        )
        .route(
            app::live::STREAM_PATH,
            axum::routing::get(crate::live::stream::products).with_state(live.clone()),
        )
        .route(
            app::live::ORDER_STREAM_PATH,
            axum::routing::get(crate::live::stream::order).with_state(live.clone()),
        )
        .route(
            app::live::LINE_STREAM_PATH,
            axum::routing::get(crate::live::stream::line).with_state(live),
        )
        .merge(crate::admin::routes(admin))
        .leptos_routes_with_context(
            &shop,
            routes,
            // the route's handler (and all it holds) is cloned for every request, even one the
            // page cache answers: it holds Arcs, and the state and options are cloned only when a
            // page is rendered or a server function runs
            {
                let state = Arc::new(state);
                let options = shop.options.clone();
                let public_url = config.public_url.clone();
                move || {
                    provide_context(AppState::clone(&state));
                    provide_context(Arc::clone(&options));
                    if let Some(url) = &public_url {
                        provide_context(url.clone());
                    }
                    crate::edge::security_headers::provide_page_nonce();
                }
            },
            {
                let options = shop.options.clone();
                move || shell(LeptosOptions::clone(&options))
            },
        )
        .fallback(leptos_axum::file_and_error_handler_with_context::<
            RouterState,
            _,
        >(
            crate::edge::security_headers::provide_page_nonce, shell
        ))
        .layer(axum::middleware::from_fn_with_state(
            crate::edge::api_guard::ApiEdge {
                body_timeout: config.body_timeout,
                signer: api_signer,
                clock: config.clock.clone(),
            },
            crate::edge::api_guard::guard,
        ))
        // the shop's settings on every request the page cache does not answer (pages, server
        // functions, the owner's pages)
        .layer(axum::middleware::from_fn_with_state(
            catalogue,
            crate::edge::shop_look::attach,
        ))
        // catalogue and product pages from memory (their settings from the edition they show);
        // after the rate limit, which counts them too
        .layer(axum::middleware::from_fn_with_state(
            pages,
            crate::edge::page_cache::serve,
        ))
        // outermost: a client over its allowance is refused before any other work
        .layer(axum::middleware::from_fn_with_state(
            limits,
            crate::edge::rate_limit::limit,
        ))
        .layer(axum::middleware::from_fn_with_state(
            config.trust_proxy,
            crate::edge::rate_limit::identify,
        ))
        .layer(CompressionLayer::new())
        .layer(axum::middleware::from_fn_with_state(
            crate::edge::security_headers::Headers {
                over_https: config.secure_cookies,
                reload_port: reload_port(config),
            },
            crate::edge::security_headers::add,
        ))
        .with_state(shop)
}

/// What the shop's routes hold: cloned for every request (axum clones the matched route's
/// handler), so one reference count, not a copy of the options' strings; the options are copied
/// out only where a handler asks for them.
#[derive(Clone)]
struct RouterState {
    options: Arc<LeptosOptions>,
}

impl axum::extract::FromRef<RouterState> for LeptosOptions {
    fn from_ref(state: &RouterState) -> LeptosOptions {
        LeptosOptions::clone(&state.options)
    }
}

/// The owner's uploaded pictures: named by their content, so they never change and may be kept
/// for a year.
fn media(dir: &Path) -> axum::routing::MethodRouter {
    use axum::http::Response;
    let immutable = |res: &Response<_>| {
        res.status()
            .is_success()
            .then(|| HeaderValue::from_static("public, max-age=31536000, immutable"))
    };
    axum::routing::get_service(
        ServiceBuilder::new()
            .layer(SetResponseHeaderLayer::overriding(CACHE_CONTROL, immutable))
            .service(ServeDir::new(dir)),
    )
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}

/// Connections a surge may open at once before the server accepts them: tokio's default of 1,024
/// drops the rest of 3,000 phones arriving in the same instant, and each dropped one waits a
/// second (the SYN's retransmission) before it is even seen. The kernel caps it at somaxconn.
const LISTEN_BACKLOG: u32 = 8192;

fn listen(addr: std::net::SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}
