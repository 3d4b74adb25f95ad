//! `GET /healthz` for load balancers and monitors: 200 when the database answers and the order
//! desk commits, else 503 with `Retry-After` (while the desk's writes fail — a full disk — the
//! database may still answer reads: the server is not healthy all the same). Never cached,
//! never rate limited, cheap.

use app::store::Store;
use axum::http::header::{CACHE_CONTROL, RETRY_AFTER};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// How long the database may take to answer before the server is reported unhealthy.
const DEADLINE: Duration = Duration::from_secs(2);

/// Whether the last health check failed (this process's), to log changes only.
static UNHEALTHY: AtomicBool = AtomicBool::new(false);

pub async fn healthz(store: Arc<dyn Store>, desk: Arc<app::admission::Pace>) -> Response {
    let problem = match tokio::time::timeout(DEADLINE, store.ping()).await {
        Ok(Ok(())) if desk.writes_failing() => {
            Some("the order desk's last batch could not be committed".to_owned())
        }
        Ok(Ok(())) => None,
        Ok(Err(e)) => Some(e.to_string()),
        Err(_) => Some(format!("the database did not answer within {DEADLINE:?}")),
    };
    match problem {
        None => {
            if UNHEALTHY.swap(false, Ordering::Relaxed) {
                tracing::warn!("health check passes again");
            }
            (
                StatusCode::OK,
                [(CACHE_CONTROL, "no-store")],
                Json(json!({"status": "ok"})),
            )
                .into_response()
        }
        Some(problem) => {
            // once per change: monitors ask every few seconds
            if !UNHEALTHY.swap(true, Ordering::Relaxed) {
                tracing::warn!(%problem, "health check fails");
            }
            (
                StatusCode::SERVICE_UNAVAILABLE,
                [(CACHE_CONTROL, "no-store"), (RETRY_AFTER, "5")],
                // the database's own words stay in the log: the public learns up or down
                Json(json!({"status": "unavailable"})),
            )
                .into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use app::domain::{NewOrder, OrderCode, OrderView, ProductView};
    use app::store::{CheckoutError, ProductKey, StoreError};
    use async_trait::async_trait;

    /// A store whose database is gone.
    struct Down;

    #[async_trait]
    impl Store for Down {
        async fn products(&self) -> Result<Vec<ProductView>, StoreError> {
            Err(StoreError::busy("down"))
        }
        async fn product(&self, _: &ProductKey) -> Result<Option<ProductView>, StoreError> {
            Err(StoreError::busy("down"))
        }
        async fn products_by_ids(&self, _: &[i64]) -> Result<Vec<ProductView>, StoreError> {
            Err(StoreError::busy("down"))
        }
        async fn place_order(&self, _: NewOrder) -> Result<OrderView, CheckoutError> {
            Err(StoreError::busy("down").into())
        }
        async fn order(&self, _: &OrderCode) -> Result<Option<OrderView>, StoreError> {
            Err(StoreError::busy("down"))
        }
        async fn ping(&self) -> Result<(), StoreError> {
            Err(StoreError::busy("the database is unreachable"))
        }
        async fn checkout_rules(&self) -> Result<app::store::CheckoutRules, StoreError> {
            Err(StoreError::busy("down"))
        }
        async fn shop_settings(&self) -> Result<app::shop::ShopSettings, StoreError> {
            Err(StoreError::busy("down"))
        }
        async fn sale_pay_window(&self, _: &OrderCode) -> Result<Option<i64>, StoreError> {
            Err(StoreError::busy("down"))
        }
    }

    #[tokio::test]
    async fn an_unreachable_database_answers_503_with_retry_after() {
        let res = healthz(Arc::new(Down), app::admission::Pace::new()).await;
        assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(res.headers()[RETRY_AFTER], "5");
        let body = axum::body::to_bytes(res.into_body(), 4096)
            .await
            .unwrap_or_default();
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        assert_eq!(json["status"], "unavailable");
        assert_eq!(
            json.as_object().map(|o| o.len()),
            Some(1),
            "nothing but up or down: {json}"
        );
    }
}
