//! `portcullis-bench`: runs each benchmark section and prints its table.
//! Scratch data goes under `PORTCULLIS_BENCH_DIR` (default: the system temp dir).

mod enqueue;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("## Durable enqueue (1 KiB items)\n");
    let rows = enqueue::run().await?;
    print!("{}", enqueue::table(&rows));
    Ok(())
}
