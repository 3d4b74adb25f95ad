//! The Holdfast server: configuration, storage, and the axum application that serves the Leptos
//! app, its server functions and static assets.
//!
//! The folders are layers; a module imports from its own layer and the ones below it, never
//! from one above (ARCHITECTURE.md):
//!
//! - wiring: `config`, `startup` (builds everything), `main.rs`
//! - what people reach: `edge` (sockets to server functions), `admin` (the owner's pages),
//!   `live` (open pages' news), `ops` (health, metrics, logs, backups, files), `rehearsal` and
//!   `load` (a sale rehearsed, the load generator)
//! - `store`: the two databases behind the app's ports
//! - `desk`: the group-commit desk and the usher's rounds (plain Rust over `app`'s ports)

pub mod admin;
pub mod config;
pub mod desk;
pub mod edge;
pub mod live;
pub mod load;
pub mod ops;
pub mod rehearsal;
pub mod startup;
pub mod store;

pub use config::Config;
pub use startup::Application;

#[cfg(test)]
mod layers {
    /// What each folder may name with `crate::…`, besides itself: the layers below it
    /// (ARCHITECTURE.md, "Folders and layers"). `startup` and `main.rs` are named by no one.
    const MAY_USE: &[(&str, &[&str])] = &[
        (
            "admin",
            &["edge", "live", "ops", "rehearsal", "store", "desk"],
        ),
        // a rehearsal is a copy of the shop, made from the shop's own settings
        (
            "rehearsal",
            &["load", "ops", "store", "desk", "config", "Config"],
        ),
        ("load", &[]),
        ("edge", &["live", "ops", "store", "desk"]),
        ("live", &["edge", "ops", "store", "desk"]),
        ("ops", &["store", "desk"]),
        ("store", &["desk"]),
        ("desk", &[]),
    ];

    /// Every `crate::<module>` named in the code (not the comments) of the files under `dir`.
    fn named_in(dir: &std::path::Path, found: &mut Vec<(String, String)>) -> std::io::Result<()> {
        for entry in std::fs::read_dir(dir)? {
            let path = entry?.path();
            if path.is_dir() {
                named_in(&path, found)?;
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            for line in std::fs::read_to_string(&path)?.lines() {
                let code = line.split("//").next().unwrap_or_default();
                for (at, _) in code.match_indices("crate::") {
                    let name: String = code[at + "crate::".len()..]
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                        .collect();
                    found.push((path.display().to_string(), name));
                }
            }
        }
        Ok(())
    }

    #[test]
    fn no_folder_imports_a_layer_above_it() -> std::io::Result<()> {
        let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut wrong = Vec::new();
        for (folder, may) in MAY_USE {
            let mut found = Vec::new();
            named_in(&src.join(folder), &mut found)?;
            assert!(
                !found.is_empty() || *folder == "load" || *folder == "desk",
                "{folder}"
            );
            for (file, name) in found {
                if name != *folder && !may.contains(&name.as_str()) {
                    wrong.push(format!("{file} names crate::{name}"));
                }
            }
        }
        assert!(
            wrong.is_empty(),
            "imports up a layer:\n{}",
            wrong.join("\n")
        );
        Ok(())
    }
}

#[cfg(test)]
mod wording {
    /// Where Chinese may be written in Rust: the demo shop's catalogue, and the language's own
    /// name on the owner's settings page (`"中文 (简体)"`). Everything else a person reads is in
    /// `app/locales/*.json`.
    const MAY_HOLD_CHINESE: &[&str] = &["store/seed.rs"];

    fn han(text: &str) -> bool {
        text.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c))
    }

    /// The lines of code (not comments, not the file's tests) under `dir` that hold Chinese.
    fn chinese_in(dir: &std::path::Path, found: &mut Vec<String>) -> std::io::Result<()> {
        for entry in std::fs::read_dir(dir)? {
            let path = entry?.path();
            if path.is_dir() {
                chinese_in(&path, found)?;
                continue;
            }
            let name = path.display().to_string();
            if path.extension().is_none_or(|e| e != "rs")
                || MAY_HOLD_CHINESE.iter().any(|f| name.ends_with(f))
            {
                continue;
            }
            for (n, line) in std::fs::read_to_string(&path)?.lines().enumerate() {
                if line.trim_start() == "#[cfg(test)]" {
                    break;
                }
                let code = line.trim_start();
                if code.starts_with("//") || code.contains("\"中文") {
                    continue;
                }
                if han(code) {
                    found.push(format!("{name}:{}: {}", n + 1, code));
                }
            }
        }
        Ok(())
    }

    /// Every sentence a shopper or the owner reads is worded from the locale files, once per
    /// language (`app::domain::Problem::say` for what is wrong): none is written in Rust, where
    /// rewording the English would leave the Chinese behind.
    #[test]
    fn no_chinese_is_written_in_rust_code() -> std::io::Result<()> {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut found = Vec::new();
        for dir in ["src", "../app/src"] {
            chinese_in(&root.join(dir), &mut found)?;
        }
        assert!(found.len() < 1_000, "{found:?}");
        assert!(
            found.is_empty(),
            "Chinese in Rust code, not in app/locales:\n{}",
            found.join("\n")
        );
        // the check reads what it should: the demo's catalogue is Chinese
        let seed = std::fs::read_to_string(root.join("src/store/seed.rs"))?;
        assert!(han(&seed));
        Ok(())
    }
}
