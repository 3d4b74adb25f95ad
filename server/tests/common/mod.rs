//! Test helpers: start the real server on port 0 with a fresh SQLite file, talk HTTP to it, and
//! look at the database directly to check what really happened.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use serde_json::{json, Value};
use server::{Application, Config};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool};
use std::collections::HashMap;
use std::str::FromStr;

pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    /// A separate connection to the same database file, for assertions.
    pub db: SqlitePool,
    _dir: tempfile::TempDir,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(&[]).await
}

pub async fn spawn_app_with(extra: &[(&str, &str)]) -> TestApp {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut env: HashMap<String, String> = HashMap::new();
    env.insert("HOLDFAST_ADDR".into(), "127.0.0.1:0".into());
    env.insert("HOLDFAST_DATA_DIR".into(), dir.path().display().to_string());
    for (k, v) in extra {
        env.insert((*k).into(), (*v).into());
    }
    let config = Config::from_lookup(|k| env.get(k).cloned()).expect("config");
    let db_url = config.database_url();
    let app = Application::build(config).await.expect("app builds");
    let base = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    let db = SqlitePool::connect_with(SqliteConnectOptions::from_str(&db_url).unwrap())
        .await
        .expect("test db connection");
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    TestApp {
        base,
        client,
        db,
        _dir: dir,
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("request sent")
    }

    /// Sends all these orders at once over separate connections; answers in completion order as
    /// (status, Retry-After header, JSON body).
    pub async fn fire_concurrently(&self, bodies: Vec<Value>) -> Vec<(u16, Option<String>, Value)> {
        let mut set = tokio::task::JoinSet::new();
        for body in bodies {
            let client = self.client.clone();
            let url = self.url("/api/place_order");
            set.spawn(async move {
                let res = client
                    .post(url)
                    .json(&body)
                    .send()
                    .await
                    .expect("request sent");
                let status = res.status().as_u16();
                let retry = res
                    .headers()
                    .get("retry-after")
                    .map(|v| v.to_str().unwrap().to_owned());
                (status, retry, res.json::<Value>().await.expect("JSON body"))
            });
        }
        let mut answers = Vec::new();
        while let Some(answer) = set.join_next().await {
            answers.push(answer.expect("request task"));
        }
        answers
    }

    pub async fn place_order(&self, body: &Value) -> reqwest::Response {
        self.client
            .post(self.url("/api/place_order"))
            .json(body)
            .send()
            .await
            .expect("request sent")
    }

    pub async fn set_stock(&self, product_id: i64, stock: i64) {
        sqlx::query("UPDATE products SET stock = ? WHERE id = ?")
            .bind(stock)
            .bind(product_id)
            .execute(&self.db)
            .await
            .unwrap();
    }

    pub async fn stock(&self, product_id: i64) -> i64 {
        stock_of(&self.db, product_id).await
    }

    pub async fn order_count(&self) -> i64 {
        sqlx::query_scalar("SELECT COUNT(*) FROM orders")
            .fetch_one(&self.db)
            .await
            .unwrap()
    }

    pub async fn units_sold(&self, product_id: i64) -> i64 {
        units_sold(&self.db, product_id).await
    }

    pub async fn order_codes(&self) -> Vec<String> {
        sqlx::query_scalar("SELECT code FROM orders ORDER BY id")
            .fetch_all(&self.db)
            .await
            .unwrap()
    }

    /// A snapshot of everything an order could change, to prove a refused request changed nothing.
    pub async fn snapshot(&self) -> (Vec<(i64, i64)>, i64, i64, i64) {
        let stock: Vec<(i64, i64)> = sqlx::query_as("SELECT id, stock FROM products ORDER BY id")
            .fetch_all(&self.db)
            .await
            .unwrap();
        let count = |sql: &'static str| {
            let db = self.db.clone();
            async move {
                sqlx::query_scalar::<_, i64>(sql)
                    .fetch_one(&db)
                    .await
                    .unwrap()
            }
        };
        (
            stock,
            count("SELECT COUNT(*) FROM orders").await,
            count("SELECT COUNT(*) FROM order_lines").await,
            count("SELECT COUNT(*) FROM idempotency_keys").await,
        )
    }
}

/// Units of a product left in stock, read straight from the database.
pub async fn stock_of(db: &SqlitePool, product_id: i64) -> i64 {
    sqlx::query_scalar("SELECT stock FROM products WHERE id = ?")
        .bind(product_id)
        .fetch_one(db)
        .await
        .unwrap()
}

/// Units of a product in stored orders.
pub async fn units_sold(db: &SqlitePool, product_id: i64) -> i64 {
    sqlx::query_scalar("SELECT COALESCE(SUM(quantity), 0) FROM order_lines WHERE product_id = ?")
        .bind(product_id)
        .fetch_one(db)
        .await
        .unwrap()
}

pub fn order_body(key: &str, product_id: i64, quantity: i64) -> Value {
    json!({
        "idempotency_key": key,
        "lines": [{"product_id": product_id, "quantity": quantity}],
        "customer": {"name": "Ada Lovelace", "phone": "+1 555 010 2030", "address": "1 Harbour Row, Porthaven", "note": ""}
    })
}

pub fn key(n: usize) -> String {
    format!("test-key-{n:012}")
}
