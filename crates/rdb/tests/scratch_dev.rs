mod support;
#[test]
fn dev_print() {
    for dir in ["librdb-dumps", "redis-rdb-tools-dumps", "valkey-tests-assets"] {
        let path = format!("{}/../../tests/fixtures/rdb/{dir}", env!("CARGO_MANIFEST_DIR"));
        let mut files: Vec<_> = std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()).filter(|p| p.extension().is_some_and(|e| e == "rdb")).collect();
        files.sort();
        for f in files {
            let data = std::fs::read(&f).unwrap();
            match support::whole(&data) {
                Ok(ev) => println!("OK   {:?} {} events; last {}", f.file_name().unwrap(), ev.len(), ev.last().unwrap()),
                Err(e) => println!("ERR  {:?} {e}", f.file_name().unwrap()),
            }
        }
    }
}
#[test]
fn dev_show() {
    let f = std::env::var("SHOW").unwrap_or_default();
    if f.is_empty() { return; }
    let data = std::fs::read(&f).unwrap();
    for e in support::whole(&data).unwrap() { println!("{}", &e[..e.len().min(400)]); }
}
