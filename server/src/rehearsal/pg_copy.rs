//! The copy of a shop on Postgres: a database of its own on the same server
//! (`<live>_rehearsal_<id>`), made by the shop's migrations and filled table by table with
//! `COPY` (the rows its migrations put in cleared first) out of one read-only `REPEATABLE READ` transaction on the live database — one
//! consistent snapshot, taken while the shop serves, never writing to it —, parents before the
//! tables that refer to them, then each sequence set to the live one's value. Dropped afterwards
//! (`DROP DATABASE … WITH (FORCE)`).
//!
//! It needs the shop's database user to be allowed to create databases (`CREATEDB`); without
//! that the rehearsal fails at once and says so.

use anyhow::{bail, Context};
use futures::StreamExt;
use sqlx::{Connection, PgConnection};
use std::collections::{BTreeMap, BTreeSet};

/// Tables not copied: the migrations (made by migrating the copy) and the rehearsals (the live
/// shop's own record).
const NOT_COPIED: [&str; 2] = ["_sqlx_migrations", "rehearsals"];

/// A name as an SQL identifier, quoted.
fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// The live database's name in its URL (the path), or the user's name, as Postgres defaults to.
fn live_name(url: &url::Url) -> String {
    let path = url.path().trim_start_matches('/');
    if !path.is_empty() {
        return path.to_owned();
    }
    if !url.username().is_empty() {
        return url.username().to_owned();
    }
    std::env::var("USER").unwrap_or_else(|_| "postgres".to_owned())
}

fn parse(live_url: &str) -> anyhow::Result<url::Url> {
    let url = url::Url::parse(live_url).context("DATABASE_URL is not a URL")?;
    if url.query_pairs().any(|(k, _)| k == "dbname") {
        bail!("a rehearsal needs the database named in DATABASE_URL's path, not as ?dbname=");
    }
    Ok(url)
}

/// The name of rehearsal `id`'s copy of the database `live_url` names: letters, digits and `_`
/// only, at most 63 bytes (Postgres' limit).
pub fn copy_name(live_url: &str, id: i64) -> anyhow::Result<String> {
    let url = parse(live_url)?;
    let live: String = live_name(&url)
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .take(36)
        .collect();
    Ok(format!("{live}_rehearsal_{id}"))
}

/// `live_url` with the database `name` instead.
fn url_of(live_url: &str, name: &str) -> anyhow::Result<String> {
    let mut url = parse(live_url)?;
    url.set_path(&format!("/{name}"));
    Ok(url.into())
}

/// Makes the copy `name` of the live database and fills it: its URL.
pub async fn take(live_url: &str, name: &str) -> anyhow::Result<String> {
    let mut live = PgConnection::connect(live_url)
        .await
        .context("cannot connect to the live database")?;
    sqlx::query(&format!(
        "DROP DATABASE IF EXISTS {} WITH (FORCE)",
        ident(name)
    ))
    .execute(&mut live)
    .await
    .context("cannot drop an old copy")?;
    sqlx::query(&format!("CREATE DATABASE {}", ident(name)))
        .execute(&mut live)
        .await
        .with_context(|| {
            format!(
                "cannot create the copy database {name}: a rehearsal on Postgres needs the \
                 shop's database user to be allowed to create databases (ALTER ROLE … CREATEDB)"
            )
        })?;
    let url = url_of(live_url, name)?;
    let mut copy = PgConnection::connect(&url)
        .await
        .context("cannot connect to the copy database")?;
    sqlx::migrate!("../migrations/postgres")
        .run(&mut copy)
        .await
        .context("cannot migrate the copy database")?;
    fill(&mut live, &mut copy).await?;
    copy.close().await.ok();
    live.close().await.ok();
    Ok(url)
}

/// Copies every table's rows from one snapshot of `live` into `copy`, then the sequences.
async fn fill(live: &mut PgConnection, copy: &mut PgConnection) -> anyhow::Result<()> {
    sqlx::query("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .execute(&mut *live)
        .await?;
    let tables = names(live, TABLES).await?;
    let refers: Vec<(String, String)> = sqlx::query_as(
        "SELECT c.relname::text, f.relname::text FROM pg_constraint k \
         JOIN pg_class c ON c.oid = k.conrelid JOIN pg_class f ON f.oid = k.confrelid \
         JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE k.contype = 'f' AND n.nspname = current_schema()",
    )
    .fetch_all(&mut *live)
    .await?;
    // the shop's tables: those its migrations made in the copy too (an operator's own tables
    // beside them are not the shop's to copy)
    let shop = names(copy, TABLES).await?;
    let tables: Vec<String> = tables
        .into_iter()
        .filter(|t| !NOT_COPIED.contains(&t.as_str()) && shop.contains(t))
        .collect();
    // rows the migrations put in (the settings' defaults) give way to the live ones
    if !tables.is_empty() {
        let all: Vec<String> = tables.iter().map(|t| ident(t)).collect();
        sqlx::query(&format!("TRUNCATE {} CASCADE", all.join(", ")))
            .execute(&mut *copy)
            .await
            .context("cannot empty the copy's tables")?;
    }
    for table in parents_first(&tables, &refers)? {
        let (columns,): (String,) = sqlx::query_as(
            "SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) FROM pg_attribute \
             WHERE attrelid = CAST(quote_ident($1) AS regclass) AND attnum > 0 \
             AND NOT attisdropped AND attgenerated = ''",
        )
        .bind(&table)
        .fetch_one(&mut *live)
        .await?;
        let target = format!("{} ({columns})", ident(&table));
        let mut rows = live
            .copy_out_raw(&format!("COPY {target} TO STDOUT (FORMAT binary)"))
            .await
            .with_context(|| format!("cannot read {table}"))?;
        let mut into = copy
            .copy_in_raw(&format!("COPY {target} FROM STDIN (FORMAT binary)"))
            .await
            .with_context(|| format!("cannot write {table} into the copy"))?;
        while let Some(chunk) = rows.next().await {
            into.send(chunk?).await?;
        }
        drop(rows);
        into.finish()
            .await
            .with_context(|| format!("cannot copy {table}"))?;
    }
    let sequences: Vec<(String, Option<i64>)> = sqlx::query_as(
        "SELECT sequencename::text, last_value FROM pg_sequences \
         WHERE schemaname = current_schema()",
    )
    .fetch_all(&mut *live)
    .await?;
    let shop_sequences = names(copy, SEQUENCES).await?;
    sqlx::query("COMMIT").execute(&mut *live).await?;
    for (sequence, last) in sequences {
        if let Some(last) = last.filter(|_| shop_sequences.contains(&sequence)) {
            sqlx::query("SELECT setval(CAST($1 AS regclass), $2, true)")
                .bind(ident(&sequence))
                .bind(last)
                .execute(&mut *copy)
                .await
                .with_context(|| format!("cannot set the sequence {sequence}"))?;
        }
    }
    Ok(())
}

const TABLES: &str = "SELECT tablename::text FROM pg_tables WHERE schemaname = current_schema()";
const SEQUENCES: &str =
    "SELECT sequencename::text FROM pg_sequences WHERE schemaname = current_schema()";

/// The names a catalogue query (`TABLES`, `SEQUENCES`) gives, in order.
async fn names(conn: &mut PgConnection, query: &str) -> anyhow::Result<BTreeSet<String>> {
    let rows: Vec<(String,)> = sqlx::query_as(query).fetch_all(conn).await?;
    Ok(rows.into_iter().map(|(n,)| n).collect())
}

/// The tables in an order where each comes after those it refers to.
fn parents_first(tables: &[String], refers: &[(String, String)]) -> anyhow::Result<Vec<String>> {
    let mut needs: BTreeMap<&str, BTreeSet<&str>> = tables
        .iter()
        .map(|t| (t.as_str(), BTreeSet::new()))
        .collect();
    for (child, parent) in refers {
        if child != parent && needs.contains_key(parent.as_str()) {
            if let Some(n) = needs.get_mut(child.as_str()) {
                n.insert(parent.as_str());
            }
        }
    }
    let mut order = Vec::with_capacity(tables.len());
    while !needs.is_empty() {
        let ready: Vec<&str> = needs
            .iter()
            .filter(|(_, n)| n.is_empty())
            .map(|(t, _)| *t)
            .collect();
        if ready.is_empty() {
            bail!(
                "the tables {:?} refer to each other in a circle: cannot copy them",
                needs.keys().collect::<Vec<_>>()
            );
        }
        for t in ready {
            needs.remove(t);
            for n in needs.values_mut() {
                n.remove(t);
            }
            order.push(t.to_owned());
        }
    }
    Ok(order)
}

/// Drops the copy `name`, and copies of the same live database that earlier rehearsals left.
pub async fn drop_all(live_url: &str, name: &str) -> anyhow::Result<()> {
    let Some((prefix, _)) = name.rsplit_once("_rehearsal_") else {
        bail!("{name} is not a rehearsal's copy");
    };
    let mut live = PgConnection::connect(live_url)
        .await
        .context("cannot connect to the live database")?;
    let all: Vec<(String,)> = sqlx::query_as("SELECT datname::text FROM pg_database")
        .fetch_all(&mut live)
        .await?;
    let copies = all.into_iter().map(|(d,)| d).filter(|d| {
        d.strip_prefix(prefix)
            .and_then(|rest| rest.strip_prefix("_rehearsal_"))
            .is_some_and(super::copy::is_rehearsal_id)
    });
    for copy in copies {
        sqlx::query(&format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            ident(&copy)
        ))
        .execute(&mut live)
        .await
        .with_context(|| format!("cannot drop {copy}"))?;
    }
    live.close().await.ok();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_names_are_plain_and_short() {
        assert_eq!(
            copy_name("postgres://u@127.0.0.1:5432/shop", 7).unwrap(),
            "shop_rehearsal_7"
        );
        let long = format!("postgres://u@h/{}", "Ab-c".repeat(30));
        let name = copy_name(&long, 123_456).unwrap();
        assert!(name.len() <= 63, "{name}");
        assert!(name.starts_with("ab_cab_c"), "{name}");
        assert_eq!(copy_name("postgres://bob@h", 1).unwrap(), "bob_rehearsal_1");
        assert!(copy_name("postgres://h/x?dbname=y", 1).is_err());
    }

    #[test]
    fn the_copy_url_keeps_everything_but_the_database() {
        assert_eq!(
            url_of(
                "postgres://u:p@127.0.0.1:5433/shop?sslmode=disable",
                "shop_rehearsal_2"
            )
            .unwrap(),
            "postgres://u:p@127.0.0.1:5433/shop_rehearsal_2?sslmode=disable"
        );
    }

    #[test]
    fn parents_come_first_and_circles_are_refused() {
        let t = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let r = |v: &[(&str, &str)]| {
            v.iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect::<Vec<_>>()
        };
        let order = parents_first(
            &t(&[
                "holds",
                "order_lines",
                "orders",
                "products",
                "queue_tickets",
            ]),
            &r(&[
                ("holds", "queue_tickets"),
                ("holds", "orders"),
                ("holds", "products"),
                ("order_lines", "orders"),
                ("order_lines", "products"),
                ("queue_tickets", "products"),
                ("products", "products"),
                ("rehearsals", "products"),
            ]),
        )
        .unwrap();
        let at = |n: &str| order.iter().position(|t| t == n).unwrap();
        assert_eq!(order.len(), 5);
        assert!(at("products") < at("queue_tickets"));
        assert!(at("queue_tickets") < at("holds"));
        assert!(at("orders") < at("holds") && at("orders") < at("order_lines"));
        assert!(parents_first(&t(&["a", "b"]), &r(&[("a", "b"), ("b", "a")])).is_err());
    }
}
