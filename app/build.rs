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
    live_scripts()?;
    Ok(())
}

/// The pages' live scripts, written in `js/` as readable JavaScript, go into a page inline
/// (under its nonce) in one function each, with `js/poll.js` where they ask the shop again and
/// again; comment lines and indentation are dropped (every statement there ends in `;` or a
/// brace, so joining the lines changes nothing), and spaces next to punctuation outside quotes.
/// `app::live` includes them from `OUT_DIR`; its test has Node parse them.
fn live_scripts() -> Result<(), Box<dyn Error>> {
    println!("cargo::rerun-if-changed=js");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").ok_or("no OUT_DIR")?);
    let compact = |name: &str| -> Result<String, Box<dyn Error>> {
        let text = std::fs::read_to_string(Path::new("js").join(name))?;
        let joined: String = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with("//"))
            .collect();
        Ok(tight(&joined))
    };
    let poll = compact("poll.js")?;
    for (name, asks) in [
        ("live-products.js", true),
        ("live-order.js", true),
        ("live-line.js", false),
    ] {
        let body = compact(name)?;
        let helpers = if asks { poll.as_str() } else { "" };
        std::fs::write(out.join(name), format!("(function(){{{helpers}{body}}})()"))?;
    }
    Ok(())
}

/// `js` without the spaces beside punctuation, outside string literals (the scripts have no
/// regular expression with a space, and no template strings).
fn tight(js: &str) -> String {
    const PUNCTUATION: &str = "{}()[];,=+-*<>!&|?:";
    let chars: Vec<char> = js.chars().collect();
    let mut out = String::with_capacity(js.len());
    let mut quote: Option<char> = None;
    for (i, &c) in chars.iter().enumerate() {
        match quote {
            Some(q) => {
                out.push(c);
                if c == q && chars.get(i.wrapping_sub(1)) != Some(&'\\') {
                    quote = None;
                }
            }
            None if c == '\'' || c == '"' => {
                quote = Some(c);
                out.push(c);
            }
            None if c == ' ' => {
                let before = out.chars().last().is_some_and(|b| PUNCTUATION.contains(b));
                let after = chars.get(i + 1).is_some_and(|a| PUNCTUATION.contains(*a));
                if !before && !after {
                    out.push(c);
                }
            }
            None => out.push(c),
        }
    }
    out
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
