//! Compiles `proto/*.proto` with protox (pure Rust, no `protoc`) and generates the Rust
//! types with prost-build. Every `bytes` field becomes a `bytes::Bytes`, so decoding a
//! frame held in a `Bytes` slices it instead of copying (binlog items, file chunks).

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto");
    let files = ["pika_inner_message.proto", "rsync_service.proto"];
    let descriptors = protox::compile(files, ["proto"])?;
    prost_build::Config::new().bytes(["."]).compile_fds(descriptors)?;
    Ok(())
}
