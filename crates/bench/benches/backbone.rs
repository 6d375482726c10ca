//! `cargo bench -p bench`: runs each benchmark section and prints its table beside
//! the reference it compares to.

use bench::{enqueue, pushback};

#[tokio::main]
async fn main() -> Result<(), pushback::BoxError> {
    println!("## Durable enqueue (1 KiB items)\n");
    let rows = enqueue::run().await?;
    print!("{}", enqueue::table(&rows));
    println!("\n## End to end: DMZ + inner in pushback mode, in-process\n");
    print!("{}", pushback::run().await?);
    Ok(())
}
