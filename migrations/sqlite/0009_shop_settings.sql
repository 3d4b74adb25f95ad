-- The shop's own settings, one row, changed by the owner at /admin/settings: its name and logo,
-- how shoppers reach the owner, the language a first visitor without a known one gets, the
-- currency prices are in (amounts stay integer minor units; every supported currency has two),
-- the time zone sale times are entered and shown in (they are stored in UTC), and how to pay.
-- `version` goes up with every change: every server compares it to decide that its pages are
-- out of date.
CREATE TABLE shop_settings (
    id               INTEGER PRIMARY KEY CHECK (id = 1),
    version          INTEGER NOT NULL DEFAULT 1,
    name             TEXT    NOT NULL DEFAULT '' CHECK (length(name) <= 60),
    -- a picture in shop_pictures (by its hash), or NULL
    logo             TEXT,
    contact_phone    TEXT    NOT NULL DEFAULT '',
    contact_wechat   TEXT    NOT NULL DEFAULT '',
    contact_email    TEXT    NOT NULL DEFAULT '',
    default_language TEXT    NOT NULL DEFAULT 'zh-CN' CHECK (default_language IN ('zh-CN', 'en')),
    currency         TEXT    NOT NULL DEFAULT 'CNY' CHECK (currency IN ('CNY', 'USD', 'EUR')),
    time_zone        TEXT    NOT NULL DEFAULT 'Asia/Shanghai',
    payment_text     TEXT    NOT NULL DEFAULT '' CHECK (length(payment_text) <= 2000),
    payment_picture  TEXT,
    updated_at       TEXT    NOT NULL DEFAULT '1970-01-01T00:00:00.000Z',
    updated_by       TEXT    NOT NULL DEFAULT ''
) STRICT;

INSERT INTO shop_settings (id) VALUES (1);

-- The shop's own pictures (logo, payment QR code): kept in the database, not on one server's
-- disk, so that every server of a shop can serve them. Named by a hash of their bytes.
CREATE TABLE shop_pictures (
    hash         TEXT PRIMARY KEY,
    content_type TEXT NOT NULL,
    bytes        BLOB NOT NULL,
    created_at   TEXT NOT NULL
) STRICT;
