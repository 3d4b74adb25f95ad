//! The waiting page, `/queue/:ticket`: your place in line, then your hold with a checkout form.
//! Without JavaScript it refreshes itself every few seconds (longer while the shop is strained:
//! [`crate::components::refresh_after`]); with it, the place in line is an
//! island ([`WaitingLive`]) that asks quietly instead and changes in place.

use crate::api::queue::{queue_page, ticket_status, HoldCheckout, QueueLeave, QueuePageData};
use crate::api::ApiError;
use crate::components::{url_error, BusyRetry, Countdown, ErrorBox};
use crate::domain::{QueueState, QueueStatus};
use crate::pages::checkout::{general_error, CustomerFields};
use leptos::prelude::*;
use leptos::server_fn::ServerFn;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

#[component]
pub fn QueuePage() -> impl IntoView {
    let params = use_params_map();
    let ticket = move || params.read().get("ticket").unwrap_or_default();
    let page = Resource::new(ticket, queue_page);
    // a failed form without JavaScript comes back with its error in the address
    let from_url = url_error();
    let lang = crate::language::use_language();
    view! {
        <crate::IslandScripts />
        <Suspense fallback=move || view! { <p class="muted">{crate::tr!(lang, queue_finding)}</p> }>
            {move || Suspend::new(async move {
                match page.await {
                    Ok(data) => {
                        // at the turn the tab's title changes, so a shopper on another tab sees it
                        let title = match data.status.state {
                            QueueState::Admitted { .. } => crate::tr!(lang, queue_your_turn),
                            _ => crate::tr!(lang, queue_title),
                        };
                        view! {
                            <Title text=crate::components::titled(&title) />
                            <Standing data from_url=from_url.get_untracked() />
                        }
                        .into_any()
                    }
                    Err(error) => {
                        // a busy shop (or a failed read) must not leave a phone without
                        // JavaScript on a dead page: it asks again on its own, as the
                        // waiting page does; a ticket that is gone for good does not
                        let again = again_after_error(&error);
                        view! {
                            <Title text=crate::components::titled(&crate::tr!(lang, queue_title)) />
                            {again.map(|secs| view! {
                                <noscript inner_html=format!(
                                    r#"<meta http-equiv="refresh" content="{}">"#,
                                    crate::components::refresh_after(secs),
                                ) />
                            })}
                            <ErrorBox error />
                        }
                        .into_any()
                    }
                }
            })}
        </Suspense>
    }
}

/// Seconds after which a waiting page that failed to load should load again by itself: the
/// shop's own "try again in N s" when it said one, 5 s after an internal error, never for an
/// answer that will not change (an unknown ticket, a bad address).
fn again_after_error(error: &ApiError) -> Option<u64> {
    match error {
        ApiError::Internal { .. } => Some(5),
        ApiError::Overloaded { .. } | ApiError::RateLimited { .. } | ApiError::Paused { .. } => {
            error.retry_after_secs().map(|secs| secs.clamp(1, 60))
        }
        _ => None,
    }
}

/// The live part of a waiting shopper's page: asks again (every few seconds near the head of
/// the line, less often further back: [`QueueStatus::ask_again_secs`]) and shows the new place
/// in line in place; when the ticket is no longer waiting (admitted, sold out, …) it loads the
/// page again, which the server renders for the new state (with the hold's checkout form). A
/// failed ask (the shop busy, the network gone) shows "busy, still trying" with the place kept,
/// and asks again with backoff — it never stops. While the live channel is open only every
/// [`SKIPS_WHILE_LIVE`]` + 1`th tick asks; the first tick after the channel breaks asks. Once
/// awake it marks itself (`data-awake`): its WASM chunk is fetched lazily, only on this page,
/// and a page is shown (and listens) before it arrives.
#[island(lazy)]
fn WaitingLive(status: QueueStatus, words: WaitingWords) -> impl IntoView {
    let ticket = status.ticket.clone();
    let first = status.ask_again_secs();
    let shown = RwSignal::new(status);
    let trouble = RwSignal::new(false);
    let awake = RwSignal::new(false);
    Effect::new(move |_| {
        awake.set(true);
        ask_later(ticket.clone(), first, Asked::default(), shown, trouble);
    });
    // the live channel's place in line ([`crate::live::LineLive`] leaves it on the page and
    // says so): shown by the island itself, which keeps its part of the page its own
    Effect::new(move |_| {
        let take = move || {
            if let Some((position, eta)) = live_place() {
                shown.update(|s| s.told_place(position, eta));
            }
        };
        take();
        let _listening = window_event_listener_untyped(crate::live::PLACE_EVENT, move |_| take());
    });
    let still_trying = words.still_trying.clone();
    // one live region that stays while its content changes: a new place in line is read out
    // politely (the countdowns inside are timers, never read out on their own)
    view! {
        <div
            role="status"
            aria-live="polite"
            data-testid="queue-live"
            data-awake=move || awake.get().then_some("true")
        >
            {move || view! { <WaitingPlace status=shown.get() words=words.clone() /> }}
            {move || trouble.get().then(|| view! {
                <p class="notice" data-testid="still-trying">{still_trying.clone()}</p>
            })}
        </div>
    }
}

/// While the live channel is open (it tells the place and the turn) the island lets this many
/// of its ticks pass without asking the shop, then asks once (for the estimate).
#[cfg_attr(feature = "ssr", allow(dead_code))]
const SKIPS_WHILE_LIVE: u32 = 4;

/// Where the island's asking stands: failed asks in a row, ticks let pass since the last ask.
#[derive(Debug, Clone, Copy, Default)]
#[cfg_attr(feature = "ssr", allow(dead_code))]
struct Asked {
    failures: u32,
    skipped: u32,
}

/// Asks for the ticket's standing after the interval `asked.failures` calls for, then again.
/// A tick while the live channel is open and all is well asks nothing, up to
/// [`SKIPS_WHILE_LIVE`] in a row: so when the channel breaks (the shop restarting, the network
/// gone) the page notices at its next usual tick, not minutes later.
#[cfg_attr(feature = "ssr", allow(dead_code))]
fn ask_later(
    ticket: String,
    usual_secs: u32,
    asked: Asked,
    shown: RwSignal<QueueStatus>,
    trouble: RwSignal<bool>,
) {
    // each phone's own spread of up to a second, from its ticket and the attempt
    let spread = ticket
        .bytes()
        .chain(asked.failures.to_le_bytes())
        .fold(17_u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)));
    let wait = crate::domain::queue::ask_again_after(usual_secs, asked.failures, spread % 1000);
    set_timeout(
        move || {
            if asked.failures == 0 && asked.skipped < SKIPS_WHILE_LIVE && line_is_live() {
                let asked = Asked {
                    skipped: asked.skipped + 1,
                    ..asked
                };
                return ask_later(ticket, usual_secs, asked, shown, trouble);
            }
            leptos::task::spawn_local(async move {
                match ticket_status(ticket.clone()).await {
                    Ok(fresh) if !fresh.is_waiting() => {
                        let _ = window().location().reload();
                    }
                    Ok(fresh) => {
                        trouble.set(false);
                        let usual = fresh.ask_again_secs();
                        if shown.with_untracked(|s| *s != fresh) {
                            shown.set(fresh);
                        }
                        ask_later(ticket, usual, Asked::default(), shown, trouble);
                    }
                    Err(_) => {
                        trouble.set(true);
                        let asked = Asked {
                            failures: asked.failures.saturating_add(1),
                            skipped: 0,
                        };
                        ask_later(ticket, usual_secs, asked, shown, trouble);
                    }
                }
            });
        },
        wait,
    );
}

/// The place in line and estimate the live channel last told, if it told one.
#[cfg_attr(feature = "ssr", allow(dead_code))]
fn live_place() -> Option<(u64, u64)> {
    let told = document()
        .document_element()?
        .get_attribute(crate::live::PLACE_ATTRIBUTE)?;
    let told: serde_json::Value = serde_json::from_str(&told).ok()?;
    Some((told["position"].as_u64()?, told["eta_seconds"].as_u64()?))
}

/// Whether the page's live channel ([`crate::live::LineLive`]) is open now.
#[cfg_attr(feature = "ssr", allow(dead_code))]
fn line_is_live() -> bool {
    document()
        .document_element()
        .is_some_and(|e| e.has_attribute("data-hf-line"))
}

/// The waiting place's words in the shopper's language, made on the server and given to the
/// island: the browser's WASM carries no translations.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct WaitingWords {
    units: crate::domain::CountdownUnits,
    paused: String,
    opens_in: String,
    opens_then: String,
    number_before: String,
    number_after: String,
    nearly: String,
    /// With `{time}` where the wait goes.
    eta: String,
    waiting: String,
    keep_open: String,
    /// The last ask failed: busy, still trying, place kept.
    still_trying: String,
}

impl WaitingWords {
    /// The estimate's line on the waiting page for an earliest turn `eta_seconds` away (the
    /// live channel tells it in the same words).
    pub fn eta_line(&self, eta_seconds: u64) -> String {
        if eta_seconds <= 2 {
            self.nearly.clone()
        } else {
            self.eta.replace(
                "{time}",
                &crate::domain::countdown_text(
                    i64::try_from(eta_seconds).unwrap_or(i64::MAX),
                    &self.units,
                ),
            )
        }
    }

    pub fn new(lang: crate::language::Language) -> WaitingWords {
        WaitingWords {
            units: crate::domain::CountdownUnits::of(lang),
            paused: crate::tr!(lang, queue_paused),
            opens_in: crate::tr!(lang, queue_opens_in),
            opens_then: crate::tr!(lang, queue_opens_then),
            number_before: crate::tr!(lang, queue_number_before),
            number_after: crate::tr!(lang, queue_number_after),
            nearly: crate::tr!(lang, queue_nearly),
            eta: crate::tr!(lang, queue_eta, time = "{time}"),
            waiting: crate::tr!(lang, queue_waiting),
            keep_open: crate::tr!(lang, queue_keep_open),
            still_trying: crate::tr!(lang, queue_still_trying),
        }
    }
}

/// Where a waiting shopper stands.
#[component]
fn WaitingPlace(status: QueueStatus, words: WaitingWords) -> impl IntoView {
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
            <p class="notice paused" data-testid="paused">
                {words.paused.clone()}
            </p>
        })}
        <div class="notice queue-place" data-testid="queue-state" data-state="waiting">
            {match (position, starts_in_secs) {
                (_, Some(secs)) => view! {
                    <p>
                        {words.opens_in.clone()}
                        <strong><Countdown
                            secs=i64::try_from(secs).unwrap_or(i64::MAX)
                            units=words.units.clone()
                        /></strong>
                        {words.opens_then.clone()}
                    </p>
                }
                .into_any(),
                (Some(position), None) => view! {
                    <p class="position">
                        {words.number_before.clone()}
                        <strong data-testid="position">{position}</strong>
                        {words.number_after.clone()}
                    </p>
                    <p data-testid="eta">{words.eta_line(eta_seconds)}</p>
                }
                .into_any(),
                (None, None) => view! { <p>{words.waiting.clone()}</p> }.into_any(),
            }}
            <p class="muted">{words.keep_open.clone()}</p>
        </div>
    }
    .into_any()
}

#[component]
fn Standing(data: QueuePageData, from_url: Option<ApiError>) -> impl IntoView {
    let lang = crate::language::use_language();
    let status = data.status.clone();
    let what = format!("{} × {}", status.quantity, status.product_name);
    let product_href = format!("/p/{}", status.product_slug);
    match status.state.clone() {
        QueueState::Waiting { .. } => view! {
            // without JavaScript the browser reloads the page itself; with it, the <noscript>
            // content is inert text and the island asks instead
            <noscript inner_html=format!(
                r#"<meta http-equiv="refresh" content="{}">"#,
                crate::components::refresh_after(u64::from(status.ask_again_secs())),
            ) />
            <h1>{crate::tr!(lang, queue_in_line)}</h1>
            <p class="queue-what">{what}</p>
            <WaitingLive status=status.clone() words=WaitingWords::new(lang) />
            <crate::live::LineLive ticket=status.ticket.clone() />
            <LeaveForm ticket=status.ticket.clone() label=crate::tr!(lang, queue_leave) />
        }
        .into_any(),
        QueueState::Admitted {
            hold_token,
            hold_seconds_left,
            ..
        } => view! {
            {status.paused.then(|| view! {
                <p class="notice paused" role="status" data-testid="paused">
                    {crate::tr!(lang, queue_checkout_paused)}
                </p>
            })}
            <HeldCheckout data hold_token seconds_left=hold_seconds_left from_url />
        }
        .into_any(),
        QueueState::SoldOut => view! {
            <h1>{crate::tr!(lang, queue_sold_out)}</h1>
            <div class="notice notice-error" role="status" data-testid="queue-state" data-state="sold_out">
                <p>{crate::tr!(lang, queue_sold_out_text, name = status.product_name.clone())}</p>
            </div>
            <a class="button" href="/">{crate::tr!(lang, browse_shop)}</a>
        }
        .into_any(),
        QueueState::Expired => view! {
            <h1>{crate::tr!(lang, queue_expired)}</h1>
            <div class="notice notice-error" role="status" data-testid="queue-state" data-state="expired">
                <p>{crate::tr!(lang, queue_expired_text)}</p>
            </div>
            <a class="button" href=product_href>{crate::tr!(lang, back_to_product)}</a>
        }
        .into_any(),
        QueueState::Left => view! {
            <h1>{crate::tr!(lang, queue_left)}</h1>
            <p data-testid="queue-state" data-state="left">{crate::tr!(lang, queue_left_text)}</p>
            <a class="button" href=product_href>{crate::tr!(lang, back_to_product)}</a>
        }
        .into_any(),
        QueueState::Ordered { order_code } => view! {
            <h1>{crate::tr!(lang, queue_ordered)}</h1>
            <p data-testid="queue-state" data-state="ordered">
                {crate::tr!(lang, queue_order)} " " <strong>{order_code.clone()}</strong> " — "
                <a href=format!("/order/{order_code}")>{crate::tr!(lang, queue_see_order)}</a>
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
    let lang = crate::language::use_language();
    view! {
        <h1>{crate::tr!(lang, queue_your_turn)}</h1>
        <div class="notice notice-ok" data-testid="queue-state" data-state="admitted">
            <p>
                {crate::tr!(lang, queue_held_for_you)}
                <strong>{format!("{} × {}", status.quantity, status.product_name)}</strong>
                {crate::tr!(lang, queue_held_for)}
                <strong>
                    <Countdown
                        secs=i64::try_from(seconds_left).unwrap_or(0)
                        units=crate::domain::CountdownUnits::of(lang)
                    />
                </strong>
                {crate::tr!(lang, queue_held_then)}
            </p>
        </div>
        {move || {
            general
                .get()
                .map(|e| {
                    view! {
                        <div class="notice notice-error" role="alert" data-testid="checkout-error">
                            <p>{e.to_string()}</p>
                            <BusyRetry error=e form_id="hold-checkout-form" />
                        </div>
                    }
                })
        }}
        <form method="post" action=HoldCheckout::url() id="hold-checkout-form" class="checkout-form" novalidate>
            <input type="hidden" name="hold_token" value=hold_token />
            <input type="hidden" name="idempotency_key" value=data.idempotency_key />
            // the turn: the name field takes the focus (not after a failed send: the error does)
            <CustomerFields
                values=v
                error
                phone_label=crate::tr!(lang, field_phone_joined)
                focus_first=error.get_untracked().is_none()
            />
            <button type="submit" class="button primary wide">
                {crate::tr!(lang, place_order)}
            </button>
        </form>
        <LeaveForm ticket=status.ticket label=crate::tr!(lang, queue_give_up) />
    }
}

#[component]
fn LeaveForm(ticket: String, label: String) -> impl IntoView {
    view! {
        <form method="post" action=QueueLeave::url() class="inline leave">
            <input type="hidden" name="ticket" value=ticket />
            <button type="submit" class="button quiet small">{label}</button>
        </form>
    }
}

#[cfg(test)]
mod tests {
    use super::again_after_error;
    use crate::api::Refusal;
    use crate::domain::Problem;
    use crate::language::Language::En;

    #[test]
    fn a_failed_waiting_page_asks_again_only_when_asking_again_can_help() {
        let again = |r: Refusal| again_after_error(&r.say(En));
        assert_eq!(again(Refusal::overloaded(7)), Some(7));
        assert_eq!(again(Refusal::overloaded(0)), Some(1));
        assert_eq!(again(Refusal::rate_limited(300)), Some(60));
        assert_eq!(again(Refusal::Internal), Some(5));
        assert_eq!(again(Refusal::NotFound(Problem::TicketUnknown)), None);
        assert_eq!(again(Refusal::HoldInvalid(Problem::HoldUnknown)), None);
    }
}
