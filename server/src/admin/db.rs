//! Where owners, their sessions and failed logins are kept: the shop's own database, SQLite or
//! Postgres. The SQL is the same for both (numbered parameters), written once and run through
//! `store::sql` on whichever pool the shop has. Admin traffic is light, so these go straight to the database
//! rather than through the order desk.

use crate::store::sql::sql;
use app::domain::At;
use app::store::StoreError;

/// The shop's database, as the owner's side reaches it (`store::sql`).
pub use crate::store::sql::Db as AdminDb;

/// An owner account as stored. The hash never leaves the server.
pub struct OwnerRow {
    pub id: i64,
    pub email: String,
    pub password_hash: String,
}

/// A live session, found by its token's hash.
pub struct SessionRow {
    pub owner_id: i64,
    pub email: String,
    pub csrf_token: String,
    pub last_seen_at: app::domain::At,
    pub expires_at: app::domain::At,
}

pub struct NewSession<'a> {
    pub token_hash: &'a str,
    pub owner_id: i64,
    pub csrf_token: &'a str,
    pub now: At,
    pub expires_at: At,
}

impl AdminDb {
    pub async fn owner_count(&self) -> Result<i64, StoreError> {
        let (n,): (i64,) = self.one(sql("SELECT COUNT(*) FROM owners")).await?;
        Ok(n)
    }

    pub async fn owner_by_email(&self, email: &str) -> Result<Option<OwnerRow>, StoreError> {
        let row: Option<(i64, String, String)> = self
            .optional(
                sql("SELECT id, email, password_hash FROM owners WHERE email = $1").bind(email),
            )
            .await?;
        Ok(row.map(|(id, email, password_hash)| OwnerRow {
            id,
            email,
            password_hash,
        }))
    }

    /// Adds an owner; `Ok(false)` when the email is taken. With `only_if_none`, only while the
    /// shop has no owner at all (the one-time setup page), decided in the same statement.
    pub async fn add_owner(
        &self,
        email: &str,
        password_hash: &str,
        now: At,
        only_if_none: bool,
    ) -> Result<bool, StoreError> {
        let text = if only_if_none {
            "INSERT INTO owners (email, password_hash, created_at) SELECT $1, $2, $3 \
             WHERE NOT EXISTS (SELECT 1 FROM owners) ON CONFLICT (email) DO NOTHING"
        } else {
            "INSERT INTO owners (email, password_hash, created_at) VALUES ($1, $2, $3) \
             ON CONFLICT (email) DO NOTHING"
        };
        let added = self
            .execute(sql(text).bind(email).bind(password_hash).bind(now))
            .await?;
        Ok(added == 1)
    }

    pub async fn add_session(&self, s: &NewSession<'_>) -> Result<(), StoreError> {
        self.execute(
            sql("INSERT INTO owner_sessions \
                 (token_hash, owner_id, csrf_token, created_at, last_seen_at, expires_at) \
                 VALUES ($1, $2, $3, $4, $4, $5)")
            .bind(s.token_hash)
            .bind(s.owner_id)
            .bind(s.csrf_token)
            .bind(s.now)
            .bind(s.expires_at),
        )
        .await
        .map(|_| ())
    }

    pub async fn session(&self, token_hash: &str) -> Result<Option<SessionRow>, StoreError> {
        let row: Option<(i64, String, String, app::domain::At, app::domain::At)> = self
            .optional(
                sql(
                    "SELECT s.owner_id, o.email, s.csrf_token, s.last_seen_at, s.expires_at \
                     FROM owner_sessions s JOIN owners o ON o.id = s.owner_id \
                     WHERE s.token_hash = $1",
                )
                .bind(token_hash),
            )
            .await?;
        Ok(row.map(
            |(owner_id, email, csrf_token, last_seen_at, expires_at)| SessionRow {
                owner_id,
                email,
                csrf_token,
                last_seen_at,
                expires_at,
            },
        ))
    }

    pub async fn touch_session(&self, token_hash: &str, now: At) -> Result<(), StoreError> {
        self.execute(
            sql("UPDATE owner_sessions SET last_seen_at = $1 WHERE token_hash = $2")
                .bind(now)
                .bind(token_hash),
        )
        .await
        .map(|_| ())
    }

    pub async fn end_session(&self, token_hash: &str) -> Result<(), StoreError> {
        self.execute(sql("DELETE FROM owner_sessions WHERE token_hash = $1").bind(token_hash))
            .await
            .map(|_| ())
    }

    /// Ends every session of the owner; how many.
    pub async fn end_all_sessions(&self, owner_id: i64) -> Result<u64, StoreError> {
        self.execute(sql("DELETE FROM owner_sessions WHERE owner_id = $1").bind(owner_id))
            .await
    }

    pub async fn sessions_of(&self, owner_id: i64) -> Result<i64, StoreError> {
        let (n,): (i64,) = self
            .one(sql("SELECT COUNT(*) FROM owner_sessions WHERE owner_id = $1").bind(owner_id))
            .await?;
        Ok(n)
    }

    /// Sessions past their end (idle or absolute) are deleted now and then.
    pub async fn sweep_sessions(&self, idle_before: At, now: At) -> Result<(), StoreError> {
        self.execute(
            sql("DELETE FROM owner_sessions WHERE last_seen_at < $1 OR expires_at <= $2")
                .bind(idle_before)
                .bind(now),
        )
        .await
        .map(|_| ())
    }

    pub async fn record_failure(
        &self,
        email: &str,
        client: &str,
        now: At,
    ) -> Result<(), StoreError> {
        self.execute(
            sql("INSERT INTO login_failures (email, client, at) VALUES ($1, $2, $3)")
                .bind(email)
                .bind(client)
                .bind(now),
        )
        .await
        .map(|_| ())
    }

    /// Takes back an attempt recorded by [`AdminDb::record_failure`] that was never tried (it
    /// was refused before its password was checked).
    pub async fn forget_failure(
        &self,
        email: &str,
        client: &str,
        at: At,
    ) -> Result<(), StoreError> {
        self.execute(
            sql("DELETE FROM login_failures WHERE email = $1 AND client = $2 AND at = $3")
                .bind(email)
                .bind(client)
                .bind(at),
        )
        .await
        .map(|_| ())
    }

    /// Failed logins since `since` for this email and for this client: (count, oldest) each.
    pub async fn failures_since(
        &self,
        email: &str,
        client: &str,
        since: At,
    ) -> Result<((i64, Option<At>), (i64, Option<At>)), StoreError> {
        let by_email = self
            .one(
                sql("SELECT COUNT(*), MIN(at) FROM login_failures WHERE email = $1 AND at > $2")
                    .bind(email)
                    .bind(since),
            )
            .await?;
        let by_client = self
            .one(
                sql("SELECT COUNT(*), MIN(at) FROM login_failures WHERE client = $1 AND at > $2")
                    .bind(client)
                    .bind(since),
            )
            .await?;
        Ok((by_email, by_client))
    }

    /// A successful login forgets the account's failures; old failures go after a while.
    pub async fn clear_failures(&self, email: &str, before: At) -> Result<(), StoreError> {
        self.execute(
            sql("DELETE FROM login_failures WHERE email = $1 OR at < $2")
                .bind(email)
                .bind(before),
        )
        .await
        .map(|_| ())
    }
}
