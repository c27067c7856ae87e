#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
mod support;
#[test]
fn dev_show() {
    let f = std::env::var("SHOW").unwrap_or_default();
    if f.is_empty() { return; }
    let data = support::fixture(&f);
    println!("{:?}", support::model::decode(&data));
}
