//! The shop's settings and its own pictures, in the shop's database (one row, `shop_settings`;
//! pictures in `shop_pictures`), read and written the same way on SQLite and Postgres.

use super::sql::{sql, Db};
use app::domain::At;
use app::domain::{Currency, OrderCode, OrderStatus};
use app::language::Language;
use app::shop::ShopSettings;
use app::store::StoreError;

/// What the owner saves at `/admin/settings`, already checked (`admin::settings`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSettings {
    pub name: String,
    pub contact_phone: String,
    pub contact_wechat: String,
    pub contact_email: String,
    pub default_language: Language,
    pub currency: Currency,
    pub time_zone: String,
    pub payment_text: String,
}

/// A picture of the shop's own, as served.
pub struct ShopPicture {
    pub content_type: String,
    pub bytes: Vec<u8>,
}

/// Which of the settings' pictures a new upload replaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PictureSlot {
    Logo,
    Payment,
}

impl PictureSlot {
    fn column(self) -> &'static str {
        match self {
            PictureSlot::Logo => "logo",
            PictureSlot::Payment => "payment_picture",
        }
    }
}

type SettingsRow = (
    i64,
    String,
    Option<String>,
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    Option<String>,
);

impl Db {
    /// The shop's settings as stored (the defaults, should the row be missing).
    pub async fn shop_settings(&self) -> Result<ShopSettings, StoreError> {
        let row: Option<SettingsRow> = self
            .optional(sql(
                "SELECT version, name, logo, contact_phone, contact_wechat, contact_email, \
                 default_language, currency, time_zone, payment_text, payment_picture \
                 FROM shop_settings WHERE id = 1",
            ))
            .await?;
        let Some((
            version,
            name,
            logo,
            contact_phone,
            contact_wechat,
            contact_email,
            default_language,
            currency,
            time_zone,
            payment_text,
            payment_picture,
        )) = row
        else {
            return Ok(ShopSettings::default());
        };
        let defaults = ShopSettings::default();
        Ok(ShopSettings {
            version,
            name,
            logo,
            contact_phone,
            contact_wechat,
            contact_email,
            default_language: Language::from_tag(&default_language)
                .unwrap_or(defaults.default_language),
            currency: Currency::parse(&currency).unwrap_or(defaults.currency),
            time_zone,
            payment_text,
            payment_picture,
        })
    }

    /// Saves the owner's settings and moves their version on, so that every server sees them
    /// changed.
    pub async fn save_shop_settings(
        &self,
        new: &NewSettings,
        by: &str,
        now: At,
    ) -> Result<(), StoreError> {
        self.execute(
            sql(
                "UPDATE shop_settings SET version = version + 1, name = $1, contact_phone = $2, \
                 contact_wechat = $3, contact_email = $4, default_language = $5, currency = $6, \
                 time_zone = $7, payment_text = $8, updated_at = $9, updated_by = $10 \
                 WHERE id = 1",
            )
            .bind(&new.name)
            .bind(&new.contact_phone)
            .bind(&new.contact_wechat)
            .bind(&new.contact_email)
            .bind(new.default_language.tag())
            .bind(new.currency.code())
            .bind(&new.time_zone)
            .bind(&new.payment_text)
            .bind(now)
            .bind(by),
        )
        .await
        .map(|_| ())
    }

    /// Keeps a picture (once per content) and puts it in `slot`; `None` takes the slot's
    /// picture away.
    pub async fn set_shop_picture(
        &self,
        slot: PictureSlot,
        picture: Option<(&str, &ShopPicture)>,
        by: &str,
        now: At,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        if let Some((hash, picture)) = picture {
            tx.execute(
                sql(
                    "INSERT INTO shop_pictures (hash, content_type, bytes, created_at) \
                     VALUES ($1, $2, $3, $4) ON CONFLICT (hash) DO NOTHING",
                )
                .bind(hash)
                .bind(&picture.content_type)
                .bind(picture.bytes.as_slice())
                .bind(now),
            )
            .await?;
        }
        let text = format!(
            "UPDATE shop_settings SET version = version + 1, {} = $1, updated_at = $2, \
             updated_by = $3 WHERE id = 1",
            slot.column()
        );
        tx.execute(
            sql(&text)
                .bind(picture.map(|(hash, _)| hash))
                .bind(now)
                .bind(by),
        )
        .await?;
        tx.commit().await
    }

    /// One of the shop's pictures, by its hash.
    pub async fn shop_picture(&self, hash: &str) -> Result<Option<ShopPicture>, StoreError> {
        let row: Option<(String, Vec<u8>)> = self
            .optional(
                sql("SELECT content_type, bytes FROM shop_pictures WHERE hash = $1").bind(hash),
            )
            .await?;
        Ok(row.map(|(content_type, bytes)| ShopPicture {
            content_type,
            bytes,
        }))
    }

    /// The shortest payment window (seconds) of the sales this order was placed during, if it
    /// was placed during one: such an order is cancelled that long after it was placed.
    pub async fn sale_pay_window(&self, code: &OrderCode) -> Result<Option<i64>, StoreError> {
        let (window,): (Option<i64>,) = self
            .one(
                sql("SELECT MIN(s.pay_seconds) FROM orders o \
                 JOIN order_lines l ON l.order_id = o.id \
                 JOIN sales s ON s.product_id = l.product_id \
                 WHERE o.code = $1 AND o.status = $2 \
                 AND o.created_at >= s.starts_at AND o.created_at < s.ends_at")
                .bind(code.as_str())
                .bind(OrderStatus::AwaitingPayment.as_str()),
            )
            .await?;
        Ok(window)
    }
}
