//! The shop's settings on every request: read from the catalogue cache (at most a quarter of a
//! second old) and put in the request's extensions, where pages (`app::shop::use_shop`), the
//! page cache and the owner's pages find them. Also serves the shop's own pictures (logo,
//! payment code), which live in the database so every server of the shop has them.

use crate::store::CatalogueCache;
use app::shop::ShopSettings;
use axum::extract::{Path, Request, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, X_CONTENT_TYPE_OPTIONS};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

tokio::task_local! {
    /// The settings of the request being answered, for the owner's pages (plain functions that
    /// format money and times, far from the request).
    static CURRENT: Arc<ShopSettings>;
}

/// The middleware: the settings go on the request, and stay in reach while it is answered.
pub async fn attach(
    State(catalogue): State<Arc<CatalogueCache>>,
    mut req: Request,
    next: Next,
) -> Response {
    // the page cache, outside, may have put the settings of the edition it keeps a page under
    let settings = match req.extensions().get::<Arc<ShopSettings>>() {
        Some(settings) => settings.clone(),
        None => {
            let settings = catalogue.settings().await;
            req.extensions_mut().insert(settings.clone());
            settings
        }
    };
    CURRENT.scope(settings, next.run(req)).await
}

/// The settings of the request being answered (the defaults outside one: a unit test).
pub fn current() -> Arc<ShopSettings> {
    CURRENT.try_with(Arc::clone).unwrap_or_default()
}

/// `GET /shop-pictures/{hash}`: one of the shop's pictures. Named by its content, so it never
/// changes and may be kept a year.
pub async fn picture(
    State(db): State<crate::store::sql::Db>,
    Path(hash): Path<String>,
) -> Response {
    if hash.len() != 32 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
        return StatusCode::NOT_FOUND.into_response();
    }
    match db.shop_picture(&hash).await {
        Ok(Some(picture)) => (
            [
                (CONTENT_TYPE, picture.content_type),
                (
                    CACHE_CONTROL,
                    "public, max-age=31536000, immutable".to_owned(),
                ),
                (X_CONTENT_TYPE_OPTIONS, "nosniff".to_owned()),
            ],
            picture.bytes,
        )
            .into_response(),
        Ok(None) => StatusCode::NOT_FOUND.into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "cannot read a shop picture");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                [(axum::http::header::RETRY_AFTER, "5")],
            )
                .into_response()
        }
    }
}
