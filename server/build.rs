//! Tells cargo that the server embeds the migrations (`sqlx::migrate!`): a new migration file,
//! not only a changed one, rebuilds it.

fn main() {
    println!("cargo::rerun-if-changed=../migrations");
}
