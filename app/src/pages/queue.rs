//! The waiting page, `/queue/:ticket`: your place in line, then your hold with a checkout form.
//! Without JavaScript it refreshes itself every few seconds; with it, the place in line is an
//! island ([`WaitingLive`]) that asks quietly instead and changes in place.

use crate::api::queue::{queue_page, ticket_status, HoldCheckout, QueueLeave, QueuePageData};
use crate::api::ApiError;
use crate::components::{url_error, Countdown, ErrorBox};
use crate::domain::{QueueState, QueueStatus};
use crate::pages::checkout::{general_error, CustomerFields};
use leptos::prelude::*;
use leptos::server_fn::ServerFn;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

/// How often a waiting shopper's page asks again.
const POLL_SECS: u64 = 3;

#[component]
pub fn QueuePage() -> impl IntoView {
    let params = use_params_map();
    let ticket = move || params.read().get("ticket").unwrap_or_default();
    let page = Resource::new(ticket, queue_page);
    // a failed form without JavaScript comes back with its error in the address
    let from_url = url_error();
    view! {
        <Title text=crate::components::titled("Your place in line") />
        <crate::IslandScripts />
        <Suspense fallback=|| view! { <p class="muted">"Finding your place in line…"</p> }>
            {move || Suspend::new(async move {
                match page.await {
                    Ok(data) => {
                        view! { <Standing data from_url=from_url.get_untracked() /> }.into_any()
                    }
                    Err(error) => view! { <ErrorBox error /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// The live part of a waiting shopper's page: asks again every few seconds and shows the new
/// place in line in place; when the ticket is no longer waiting (admitted, sold out, …) it loads
/// the page again, which the server renders for the new state (with the hold's checkout form).
/// Small on purpose: its WASM chunk is fetched only on this page.
#[island(lazy)]
fn WaitingLive(status: QueueStatus) -> impl IntoView {
    let ticket = status.ticket.clone();
    let shown = RwSignal::new(status);
    Effect::new(move |_| {
        let ticket = ticket.clone();
        let poll = move || {
            let ticket = ticket.clone();
            leptos::task::spawn_local(async move {
                let Ok(fresh) = ticket_status(ticket).await else {
                    return;
                };
                if !fresh.is_waiting() {
                    let _ = window().location().reload();
                } else if shown.with_untracked(|s| *s != fresh) {
                    shown.set(fresh);
                }
            });
        };
        if let Ok(handle) =
            set_interval_with_handle(poll, std::time::Duration::from_secs(POLL_SECS))
        {
            on_cleanup(move || handle.clear());
        }
    });
    move || view! { <WaitingPlace status=shown.get() /> }
}

/// Where a waiting shopper stands.
#[component]
fn WaitingPlace(status: QueueStatus) -> impl IntoView {
    let QueueState::Waiting {
        position,
        eta_seconds,
        starts_in_secs,
    } = status.state
    else {
        return ().into_any();
    };
    view! {
        {status.paused.then(|| view! {
            <p class="notice paused" role="status" data-testid="paused">
                "The sale is paused for a moment by the shop. Your place in line is kept."
            </p>
        })}
        <div class="notice queue-place" role="status" data-testid="queue-state" data-state="waiting">
            {match (position, starts_in_secs) {
                (_, Some(secs)) => view! {
                    <p>
                        "The sale opens in " <strong><Countdown secs=i64::try_from(secs).unwrap_or(i64::MAX) /></strong>
                        ". Then everyone who joined before is put in a random order, so there's nothing to gain by refreshing."
                    </p>
                }
                .into_any(),
                (Some(position), None) => view! {
                    <p class="position">
                        "You're number " <strong data-testid="position">{position}</strong> " in line."
                    </p>
                    <p>
                        {if eta_seconds <= 2 {
                            "It's nearly your turn.".to_owned()
                        } else {
                            format!(
                                "Units come free as others' holds run out: your turn could come in about {}.",
                                crate::domain::countdown_text(i64::try_from(eta_seconds).unwrap_or(i64::MAX)),
                            )
                        }}
                    </p>
                }
                .into_any(),
                (None, None) => view! { <p>"Waiting for your place…"</p> }.into_any(),
            }}
            <p class="muted">"Keep this page open: it updates itself. If it's sold out before your turn, it says so at once."</p>
        </div>
    }
    .into_any()
}

#[component]
fn Standing(data: QueuePageData, from_url: Option<ApiError>) -> impl IntoView {
    let status = data.status.clone();
    let what = format!("{} × {}", status.quantity, status.product_name);
    let product_href = format!("/p/{}", status.product_slug);
    match status.state.clone() {
        QueueState::Waiting { .. } => view! {
            // without JavaScript the browser reloads the page itself; with it, the <noscript>
            // content is inert text and the island asks instead
            <noscript inner_html=format!(
                r#"<meta http-equiv="refresh" content="{POLL_SECS}">"#,
            ) />
            <h1>"You're in line"</h1>
            <p class="queue-what">{what}</p>
            <WaitingLive status=status.clone() />
            <LeaveForm ticket=status.ticket.clone() label="Leave the line" />
        }
        .into_any(),
        QueueState::Admitted {
            hold_token,
            hold_seconds_left,
            ..
        } => view! {
            {status.paused.then(|| view! {
                <p class="notice paused" role="status" data-testid="paused">
                    "Checkout is paused for a moment by the shop. Your hold is kept: it will not run out while paused."
                </p>
            })}
            <HeldCheckout data hold_token seconds_left=hold_seconds_left from_url />
        }
        .into_any(),
        QueueState::SoldOut => view! {
            <h1>"Sold out"</h1>
            <div class="notice notice-error" role="status" data-testid="queue-state" data-state="sold_out">
                <p>{format!("Sorry — everything left of {} is taken by people ahead of you in line.", status.product_name)}</p>
            </div>
            <a class="button" href="/">"Browse the shop"</a>
        }
        .into_any(),
        QueueState::Expired => view! {
            <h1>"Your hold ran out"</h1>
            <div class="notice notice-error" role="status" data-testid="queue-state" data-state="expired">
                <p>"The units held for you went to the next in line. You can join the line again."</p>
            </div>
            <a class="button" href=product_href>"Back to the product"</a>
        }
        .into_any(),
        QueueState::Left => view! {
            <h1>"You left the line"</h1>
            <p data-testid="queue-state" data-state="left">"Changed your mind? You can join again from the product page."</p>
            <a class="button" href=product_href>"Back to the product"</a>
        }
        .into_any(),
        QueueState::Ordered { order_code } => view! {
            <h1>"Your order is in"</h1>
            <p data-testid="queue-state" data-state="ordered">
                "Order " <strong>{order_code.clone()}</strong> " — "
                <a href=format!("/order/{order_code}")>"see your order"</a>
            </p>
        }
        .into_any(),
    }
}

/// The held units with a countdown and the checkout form. The forms are plain posts (with
/// JavaScript too): the shop answers with the order's page, or this page again with the error —
/// which keeps the waiting page's island small.
#[component]
fn HeldCheckout(
    data: QueuePageData,
    hold_token: String,
    seconds_left: u64,
    from_url: Option<ApiError>,
) -> impl IntoView {
    let error = Memo::new(move |_| from_url.clone());
    let general = general_error(error);
    let status = data.status;
    let v = data.values;
    view! {
        <h1>"It's your turn!"</h1>
        <div class="notice notice-ok" role="status" data-testid="queue-state" data-state="admitted">
            <p>
                "Held for you: " <strong>{format!("{} × {}", status.quantity, status.product_name)}</strong>
                ", for " <strong><Countdown secs=i64::try_from(seconds_left).unwrap_or(0) /></strong>
                ". Check out before then, or the units go to the next in line."
            </p>
        </div>
        {move || {
            general
                .get()
                .map(|e| {
                    view! {
                        <div class="notice notice-error" role="alert" data-testid="checkout-error">
                            <p>{e.to_string()}</p>
                        </div>
                    }
                })
        }}
        <form method="post" action=HoldCheckout::url() class="checkout-form" novalidate>
            <input type="hidden" name="hold_token" value=hold_token />
            <input type="hidden" name="idempotency_key" value=data.idempotency_key />
            <CustomerFields values=v error phone_label="Phone number (the one you joined with)" />
            <button type="submit" class="button primary wide">
                "Place order"
            </button>
        </form>
        <LeaveForm ticket=status.ticket label="Give up my hold" />
    }
}

#[component]
fn LeaveForm(ticket: String, label: &'static str) -> impl IntoView {
    view! {
        <form method="post" action=QueueLeave::url() class="inline leave">
            <input type="hidden" name="ticket" value=ticket />
            <button type="submit" class="button quiet small">{label}</button>
        </form>
    }
}
