//! Reading the catalogue: `GET /api/products`, `GET /api/product?id=…` (or `?slug=…`).

use crate::api::ApiError;
use crate::domain::ProductView;
use leptos::prelude::*;
use leptos::server_fn::codec::{GetUrl, Json};

/// Every product on sale with its current stock, named in the request's language.
#[server(endpoint = "products", input = GetUrl, output = Json)]
pub async fn list_products() -> Result<Vec<ProductView>, ApiError> {
    super::answered(
        async move {
            let state = super::state()?;
            let lang = crate::language::use_language();
            Ok(state
                .store
                .products()
                .await?
                .into_iter()
                .map(|p| p.in_language(lang))
                .collect())
        }
        .await,
    )
}

/// One product by `id` or by `slug`, with its current stock, named in the request's language.
#[server(endpoint = "product", input = GetUrl, output = Json)]
pub async fn get_product(id: Option<i64>, slug: Option<String>) -> Result<ProductView, ApiError> {
    super::answered(
        async move {
            use crate::store::ProductKey;
            let key = match (id, slug) {
                (Some(id), _) => ProductKey::Id(id),
                (None, Some(slug)) if !slug.is_empty() && slug.len() <= 100 => {
                    ProductKey::Slug(slug)
                }
                _ => {
                    return Err(crate::api::Refusal::field(
                        "id",
                        crate::domain::Problem::NoIdOrSlug,
                    ))
                }
            };
            let state = super::state()?;
            state
                .store
                .product(&key)
                .await?
                .map(|p| p.in_language(crate::language::use_language()))
                .ok_or(crate::api::Refusal::NotFound(
                    crate::domain::Problem::NoSuchProduct,
                ))
        }
        .await,
    )
}
