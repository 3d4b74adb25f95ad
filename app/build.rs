//! Turns `locales/*.json` into the typed `i18n` module (leptos_i18n's codegen), after checking
//! that every language has exactly the same keys: a text missing in one language fails the build
//! rather than showing a shopper the other language.

use leptos_i18n_build::{Config, ParseOptions, TranslationsInfos};
use std::collections::BTreeSet;
use std::error::Error;
use std::path::{Path, PathBuf};

const DEFAULT: &str = "zh-CN";
const OTHERS: &[&str] = &["en"];

fn main() -> Result<(), Box<dyn Error>> {
    println!("cargo::rerun-if-changed=build.rs");
    let keys_of = |locale: &str| -> Result<BTreeSet<String>, Box<dyn Error>> {
        let path = Path::new("locales").join(format!("{locale}.json"));
        let text = std::fs::read_to_string(&path)?;
        let json: serde_json::Value = serde_json::from_str(&text)?;
        let mut keys = BTreeSet::new();
        collect_keys(&json, "", &mut keys);
        Ok(keys)
    };
    let reference = keys_of(DEFAULT)?;
    for other in OTHERS {
        let keys = keys_of(other)?;
        let missing: Vec<_> = reference.difference(&keys).collect();
        let extra: Vec<_> = keys.difference(&reference).collect();
        if !missing.is_empty() || !extra.is_empty() {
            return Err(format!(
                "locales/{other}.json differs from locales/{DEFAULT}.json: missing {missing:?}, not in {DEFAULT} {extra:?}"
            )
            .into());
        }
    }

    let out = PathBuf::from(std::env::var_os("OUT_DIR").ok_or("no OUT_DIR")?).join("i18n");
    let mut cfg = Config::new(DEFAULT)?;
    for other in OTHERS {
        cfg = cfg.add_locale(other)?;
    }
    let cfg = cfg.parse_options(ParseOptions::new().interpolate_display(true));
    let infos = TranslationsInfos::parse(cfg)?;
    infos.emit_diagnostics();
    infos.rerun_if_locales_changed();
    // its `expect`s parse the constant language tags above, checked as it was generated
    let allow: proc_macro2::TokenStream = "#![allow(clippy::expect_used)]".parse()?;
    infos.generate_i18n_module_with_options(
        out,
        leptos_i18n_build::options::CodegenOptions::new().top_level_attributes(Some(allow)),
    )?;
    Ok(())
}

fn collect_keys(value: &serde_json::Value, prefix: &str, keys: &mut BTreeSet<String>) {
    if let serde_json::Value::Object(map) = value {
        for (key, inner) in map {
            let path = if prefix.is_empty() {
                key.clone()
            } else {
                format!("{prefix}.{key}")
            };
            if inner.is_object() {
                collect_keys(inner, &path, keys);
            } else {
                keys.insert(path);
            }
        }
    }
}
