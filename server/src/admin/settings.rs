//! `/admin/settings`: the shop's name and logo, contact, default language, currency, time zone
//! and how to pay. Saved in the database with a new version; this server reads them again at
//! once, every other server within its catalogue window (a quarter of a second).

use super::error::AdminError;
use super::pages::{self, lang, t};
use super::pictures;
use super::session::Owner;
use super::AdminState;
use crate::store::settings_db::{NewSettings, PictureSlot, ShopPicture};
use app::domain::{Currency, Phone};
use app::language::Language;
use app::shop::{ShopSettings, MAX_CONTACT_CHARS, MAX_NAME_CHARS, MAX_PAYMENT_TEXT_CHARS};
use app::shop_time::{ShopZone, COMMON_ZONES};
use axum::extract::{Multipart, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use leptos::prelude::*;
use serde::Deserialize;
use std::sync::Arc;

/// The largest side a logo is kept at (shown at 32 px, 64 on a sharp screen; more for the icon).
const LOGO_SIDE: u32 = 256;
/// The largest side a payment code is kept at: a phone's screenshot of a receiving code is
/// ~1,100 px wide, and a code scanned from another phone's screen needs no more than this.
const PAYMENT_PICTURE_SIDE: u32 = 720;

/// The settings form as typed.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct SettingsForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    contact_phone: String,
    #[serde(default)]
    contact_wechat: String,
    #[serde(default)]
    contact_email: String,
    #[serde(default)]
    default_language: String,
    #[serde(default)]
    currency: String,
    #[serde(default)]
    time_zone: String,
    #[serde(default)]
    payment_text: String,
}

impl SettingsForm {
    fn of(s: &ShopSettings) -> SettingsForm {
        SettingsForm {
            name: s.name.clone(),
            contact_phone: s.contact_phone.clone(),
            contact_wechat: s.contact_wechat.clone(),
            contact_email: s.contact_email.clone(),
            default_language: s.default_language.tag().to_owned(),
            currency: s.currency.code().to_owned(),
            time_zone: s.time_zone.clone(),
            payment_text: s.payment_text.clone(),
        }
    }

    /// The settings to save, or every problem with the form.
    pub fn settings(&self) -> Result<NewSettings, Vec<String>> {
        let mut problems = Vec::new();
        let mut text = |value: &str, most: usize, what: &str| -> String {
            let value: String = value.trim().chars().filter(|c| !c.is_control()).collect();
            if value.chars().count() > most {
                problems.push(t!(admin_err_at_most, what = what, most = most));
            }
            value
        };
        let name = text(&self.name, MAX_NAME_CHARS, &t!(admin_settings_what_name));
        let contact_wechat = text(
            &self.contact_wechat,
            MAX_CONTACT_CHARS,
            &t!(admin_settings_what_wechat),
        );
        let contact_email = text(
            &self.contact_email,
            MAX_CONTACT_CHARS,
            &t!(admin_settings_what_email),
        );
        // line breaks are the owner's paragraphs; other control characters go
        let payment_text: String = self
            .payment_text
            .trim()
            .replace("\r\n", "\n")
            .chars()
            .filter(|c| *c == '\n' || !c.is_control())
            .collect();
        if payment_text.chars().count() > MAX_PAYMENT_TEXT_CHARS {
            problems.push(t!(
                admin_err_at_most,
                what = t!(admin_settings_what_payment),
                most = MAX_PAYMENT_TEXT_CHARS
            ));
        }
        let contact_phone = match self.contact_phone.trim() {
            "" => String::new(),
            typed => match Phone::parse(typed) {
                Ok(phone) => app::domain::phone::pretty(phone.as_str()),
                Err(e) => {
                    problems.push(t!(admin_err_contact_phone, problem = e.say(lang())));
                    String::new()
                }
            },
        };
        if !contact_email.is_empty() && !plausible_email(&contact_email) {
            problems.push(t!(admin_err_contact_email));
        }
        if !contact_wechat.is_empty() && contact_wechat.chars().any(char::is_whitespace) {
            problems.push(t!(admin_err_wechat));
        }
        let default_language = Language::from_tag(&self.default_language);
        if default_language.is_none() {
            problems.push(t!(admin_err_default_language));
        }
        let currency = Currency::parse(&self.currency);
        if currency.is_none() {
            problems.push(t!(admin_err_currency));
        }
        let zone = ShopZone::parse(&self.time_zone)
            .map_err(|e| problems.push(e.say(lang())))
            .ok();
        match (default_language, currency, zone) {
            (Some(default_language), Some(currency), Some(zone)) if problems.is_empty() => {
                Ok(NewSettings {
                    name,
                    contact_phone,
                    contact_wechat,
                    contact_email,
                    default_language,
                    currency,
                    time_zone: zone.name().to_owned(),
                    payment_text,
                })
            }
            _ => Err(problems),
        }
    }
}

/// `someone@somewhere.tld`: enough to catch a typo, without pretending to validate e-mail.
fn plausible_email(text: &str) -> bool {
    let Some((user, domain)) = text.split_once('@') else {
        return false;
    };
    !user.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !text
            .chars()
            .any(|c| c.is_whitespace() || c == '<' || c == '>')
}

#[derive(Debug, Default, Deserialize)]
pub struct Saved {
    #[serde(default)]
    saved: Option<String>,
}

/// `GET /admin/settings`.
pub async fn page(
    owner: Owner,
    State(state): State<Arc<AdminState>>,
    Query(saved): Query<Saved>,
) -> Result<Response, AdminError> {
    let settings = state.db.shop_settings().await?;
    let form = SettingsForm::of(&settings);
    Ok(render(
        &settings,
        &form,
        &owner.csrf_token,
        &[],
        saved.saved.is_some(),
    )
    .into_response())
}

/// `POST /admin/settings`: saves the form, or shows it again with its problems (422).
pub async fn save(
    owner: Owner,
    State(state): State<Arc<AdminState>>,
    Form(form): Form<SettingsForm>,
) -> Result<Response, AdminError> {
    match form.settings() {
        Ok(new) => {
            let now = state.clock.now();
            state
                .db
                .save_shop_settings(&new, &owner.actor(), now.instant())
                .await?;
            state.catalogue.forget().await;
            tracing::info!(owner = owner.id, currency = new.currency.code(), time_zone = %new.time_zone, "shop settings saved");
            Ok(Redirect::to("/admin/settings?saved=1").into_response())
        }
        Err(problems) => {
            let settings = state.db.shop_settings().await?;
            Ok((
                StatusCode::UNPROCESSABLE_ENTITY,
                render(&settings, &form, &owner.csrf_token, &problems, false),
            )
                .into_response())
        }
    }
}

/// `POST /admin/settings/logo`: a new logo.
pub async fn upload_logo(
    owner: Owner,
    state: State<Arc<AdminState>>,
    multipart: Multipart,
) -> Result<Response, AdminError> {
    upload(owner, state, multipart, PictureSlot::Logo).await
}

/// `POST /admin/settings/payment-picture`: a new payment code.
pub async fn upload_payment_picture(
    owner: Owner,
    state: State<Arc<AdminState>>,
    multipart: Multipart,
) -> Result<Response, AdminError> {
    upload(owner, state, multipart, PictureSlot::Payment).await
}

/// `POST /admin/settings/logo/remove`.
pub async fn remove_logo(
    owner: Owner,
    state: State<Arc<AdminState>>,
) -> Result<Response, AdminError> {
    remove(owner, state, PictureSlot::Logo).await
}

/// `POST /admin/settings/payment-picture/remove`.
pub async fn remove_payment_picture(
    owner: Owner,
    state: State<Arc<AdminState>>,
) -> Result<Response, AdminError> {
    remove(owner, state, PictureSlot::Payment).await
}

async fn upload(
    owner: Owner,
    State(state): State<Arc<AdminState>>,
    mut multipart: Multipart,
    slot: PictureSlot,
) -> Result<Response, AdminError> {
    let lang = lang();
    let unreadable = |e: axum::extract::multipart::MultipartError| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            pictures::PictureError::TooLarge.refusal(lang)
        } else {
            AdminError::BadInput(t!(admin_err_upload, why = e.body_text()))
        }
    };
    let mut picture = None;
    while let Some(field) = multipart.next_field().await.map_err(unreadable)? {
        if field.name() == Some("picture") {
            picture = Some(field.bytes().await.map_err(unreadable)?);
        }
    }
    let bytes = picture.ok_or_else(|| pictures::PictureError::Empty.refusal(lang))?;
    let side = match slot {
        PictureSlot::Logo => LOGO_SIDE,
        PictureSlot::Payment => PAYMENT_PICTURE_SIDE,
    };
    let (hash, png) = pictures::one_at_a_time(move || {
        pictures::process_shop_picture(&bytes, side).map_err(|e| e.refusal(lang))
    })
    .await
    .map_err(|e| e.refusal(lang))??;
    let picture = ShopPicture {
        content_type: "image/png".to_owned(),
        bytes: png,
    };
    let now = state.clock.now();
    state
        .db
        .set_shop_picture(slot, Some((&hash, &picture)), &owner.actor(), now.instant())
        .await?;
    state.catalogue.forget().await;
    tracing::info!(owner = owner.id, ?slot, picture = %hash, "shop picture set");
    Ok(Redirect::to("/admin/settings?saved=1").into_response())
}

async fn remove(
    owner: Owner,
    State(state): State<Arc<AdminState>>,
    slot: PictureSlot,
) -> Result<Response, AdminError> {
    let now = state.clock.now();
    state
        .db
        .set_shop_picture(slot, None, &owner.actor(), now.instant())
        .await?;
    state.catalogue.forget().await;
    tracing::info!(owner = owner.id, ?slot, "shop picture removed");
    Ok(Redirect::to("/admin/settings?saved=1").into_response())
}

fn render(
    settings: &ShopSettings,
    form: &SettingsForm,
    csrf: &str,
    problems: &[String],
    saved: bool,
) -> axum::response::Html<String> {
    let f = form.clone();
    let hidden = move || view! { <input type="hidden" name="csrf" value=csrf.to_owned() /> };
    let problems = pages::problem_list(problems);
    let languages = Language::ALL
        .into_iter()
        .map(|l| {
            let label = match l {
                Language::ZhCn => "中文 (简体)",
                Language::En => "English",
            };
            view! { <option value=l.tag() selected=f.default_language == l.tag()>{label}</option> }
        })
        .collect_view();
    let currencies = Currency::ALL
        .into_iter()
        .map(|c| {
            view! { <option value=c.code() selected=f.currency == c.code()>{c.to_string()}</option> }
        })
        .collect_view();
    let zones = COMMON_ZONES
        .into_iter()
        .map(|z| view! { <option value=z></option> })
        .collect_view();
    let logo = settings.logo.as_deref().map(app::shop::picture_url);
    let pay_picture = settings
        .payment_picture
        .as_deref()
        .map(app::shop::picture_url);
    let body = view! {
        <h1>{t!(admin_settings_title)}</h1>
        {saved.then(|| view! { <p class="admin-ok" role="status">{t!(admin_settings_saved)}</p> })}
        {problems}
        <form method="post" action="/admin/settings" class="admin-form">
            {hidden()}
            <label>{t!(admin_settings_name)}
                <input name="name" maxlength=MAX_NAME_CHARS value=f.name.clone() />
            </label>
            <fieldset>
                <legend>{t!(admin_settings_contact)}</legend>
                <label>{t!(contact_phone)} <input name="contact_phone" type="tel" value=f.contact_phone.clone() placeholder="138 0013 8000" /></label>
                <label>{t!(admin_settings_wechat)} <input name="contact_wechat" maxlength=MAX_CONTACT_CHARS value=f.contact_wechat.clone() /></label>
                <label>{t!(admin_email)} <input name="contact_email" type="email" maxlength=MAX_CONTACT_CHARS value=f.contact_email.clone() /></label>
            </fieldset>
            <label>{t!(admin_settings_language)}
                <select name="default_language">{languages}</select>
            </label>
            <label>{t!(admin_settings_currency)}
                <select name="currency">{currencies}</select>
            </label>
            <label>{t!(admin_settings_zone)}
                <input name="time_zone" list="zones" value=f.time_zone.clone() required />
                <datalist id="zones">{zones}</datalist>
            </label>
            <label>{t!(admin_settings_payment_text)}
                <textarea
                    name="payment_text"
                    rows="5"
                    maxlength=MAX_PAYMENT_TEXT_CHARS
                    inner_html=app::components::textarea_text(&f.payment_text)
                ></textarea>
            </label>
            <button type="submit">{t!(admin_save)}</button>
        </form>
        <section class="admin-card">
            <h2>{t!(admin_settings_logo)}</h2>
            {logo.map(|src| view! {
                <p><img src=src alt=t!(admin_settings_logo_alt) width="64" height="64" /></p>
                <form method="post" action="/admin/settings/logo/remove">
                    {hidden()}
                    <button type="submit">{t!(admin_settings_remove_logo)}</button>
                </form>
            })}
            <form method="post" action="/admin/settings/logo" enctype="multipart/form-data" class="admin-step">
                {hidden()}
                <label>{t!(admin_settings_logo_picture)}
                    <input type="file" name="picture" accept="image/jpeg,image/png,image/webp" required />
                </label>
                <button type="submit">{t!(admin_settings_upload_logo)}</button>
            </form>
        </section>
        <section class="admin-card">
            <h2>{t!(admin_settings_pay_code)}</h2>
            <p>{t!(admin_settings_pay_code_help)}</p>
            {pay_picture.map(|src| view! {
                <p><img src=src alt=t!(admin_settings_pay_code_alt) width="200" /></p>
                <form method="post" action="/admin/settings/payment-picture/remove">
                    {hidden()}
                    <button type="submit">{t!(admin_settings_remove_pay_code)}</button>
                </form>
            })}
            <form method="post" action="/admin/settings/payment-picture" enctype="multipart/form-data" class="admin-step">
                {hidden()}
                <label>{t!(admin_settings_pay_code_picture)}
                    <input type="file" name="picture" accept="image/jpeg,image/png,image/webp" required />
                </label>
                <button type="submit">{t!(admin_settings_upload_pay_code)}</button>
            </form>
        </section>
    };
    pages::document(&t!(admin_settings_title), body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form() -> SettingsForm {
        SettingsForm {
            name: "王姐的小店".into(),
            contact_phone: "138-0013-8000".into(),
            contact_wechat: "wangjie_shop".into(),
            contact_email: "wang@example.com".into(),
            default_language: "zh-CN".into(),
            currency: "CNY".into(),
            time_zone: "Asia/Shanghai".into(),
            payment_text: "  微信扫码付款，\r\n备注订单号。 ".into(),
        }
    }

    #[test]
    fn a_good_form_is_saved_in_its_canonical_form() {
        let saved = form().settings().unwrap_or_else(|p| panic!("{p:?}"));
        assert_eq!(saved.contact_phone, "+86 138 0013 8000");
        assert_eq!(saved.payment_text, "微信扫码付款，\n备注订单号。");
        assert_eq!(saved.currency, Currency::Cny);
        assert_eq!(saved.default_language, Language::ZhCn);
        assert_eq!(saved.time_zone, "Asia/Shanghai");
    }

    #[test]
    fn every_bad_field_is_reported_and_nothing_is_saved() {
        let bad = SettingsForm {
            name: "店".repeat(61),
            contact_phone: "12345".into(),
            contact_wechat: "has space".into(),
            contact_email: "not-an-address".into(),
            default_language: "fr".into(),
            currency: "GBP".into(),
            time_zone: "Beijing".into(),
            payment_text: "x".repeat(2001),
        };
        let problems = bad.settings().err().unwrap_or_default();
        assert_eq!(problems.len(), 8, "{problems:?}");
    }

    #[test]
    fn contact_is_optional() {
        let form = SettingsForm {
            contact_phone: String::new(),
            contact_wechat: String::new(),
            contact_email: String::new(),
            ..form()
        };
        assert!(form.settings().is_ok());
    }
}
