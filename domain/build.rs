//! `sqlx::migrate!` embeds the migrations at compile time: rebuild when one is added or edited
//! (a commit that adds only a migration would otherwise ship a binary without it).
fn main() {
    println!("cargo:rerun-if-changed=../migrations");
}
